"""The same writer, expiring the session after each command.

podly-pure-podcasts/podly_pure_podcasts#200 added ``db.session.expire_all()``
after each ``commit()`` and ``rollback()`` in ``process_command()``, evicting the
identity map while keeping the scoped session usable for the next command.
"""

import itertools


class Model:
    _ids = itertools.count(1)

    def __init__(self, **fields):
        self.id = next(self._ids)
        self.__dict__.update(fields)


class Post(Model):
    pass


class TranscriptSegment(Model):
    pass


class ModelCall(Model):
    pass


class Identification(Model):
    pass


class Session:
    """The part of an ORM session that matters here: the identity map."""

    def __init__(self):
        self._identity_map = {}
        self._new = []

    def add(self, obj):
        self._new.append(obj)

    def commit(self):
        for obj in self._new:
            self._identity_map[(type(obj).__name__, obj.id)] = obj  # now persistent
        self._new.clear()

    def rollback(self):
        self._new.clear()

    def expire_all(self):
        self._identity_map.clear()


class SQLAlchemy:
    def __init__(self):
        self.session = Session()


db = SQLAlchemy()


class CommandExecutor:
    def process_command(self, episode):
        post = Post(guid="episode-%d" % episode, title="Episode %d" % episode)
        db.session.add(post)
        for n in range(20):
            text = "segment %d of episode %d: " % (n, episode) + "words " * 20
            segment = TranscriptSegment(post_id=post.id, sequence=n, start=n * 3.5, text=text)
            db.session.add(segment)
            if n % 4 == 0:
                db.session.add(Identification(segment_id=segment.id, label="ad"))
        db.session.add(ModelCall(post_id=post.id, prompt="classify " * 30, response="ok " * 20))
        try:
            db.session.commit()
            db.session.expire_all()
        except Exception:
            db.session.rollback()
            db.session.expire_all()
            raise


executor = CommandExecutor()
_episodes = itertools.count()


def request(i):
    """The writer processes one episode's command."""
    executor.process_command(i)


def main(requests=1000):
    for _ in range(requests):
        request(next(_episodes))
    return len(db.session._identity_map)


if __name__ == "__main__":
    held = main()
    print(f"processed episodes; objects held by the session: {held}")
