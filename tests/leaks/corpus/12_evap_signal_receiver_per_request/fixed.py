"""The same view connecting its receiver weakly (e-valuation/EvaP#1376).

EvaP made the ``weak=True`` explicit: the dispatcher then holds only a weak
reference, the receiver dies with the view's frame, and the dispatcher drops it.
"""

import itertools
import weakref


class Signal:
    """Django's dispatcher, reduced to what matters: a list of receivers."""

    def __init__(self):
        self.receivers = []
        self._dead_receivers = False

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        lookup_key = (dispatch_uid or id(receiver), id(sender))
        if weak:
            receiver = weakref.ref(receiver, self._remove_receiver)
        self._clear_dead_receivers()
        self.receivers.append((lookup_key, receiver))

    def _remove_receiver(self, receiver=None):
        self._dead_receivers = True

    def _clear_dead_receivers(self):
        if self._dead_receivers:
            self._dead_receivers = False
            self.receivers = [(k, r) for k, r in self.receivers if not (isinstance(r, weakref.ReferenceType) and r() is None)]

    def _live_receivers(self, sender):
        for (_, sender_key), r in self.receivers:
            r = r() if isinstance(r, weakref.ReferenceType) else r
            if r is not None and sender_key in (id(None), id(sender)):
                yield r

    def send(self, sender, **named):
        return [(receiver, receiver(signal=self, sender=sender, **named)) for receiver in self._live_receivers(sender)]


def receiver(signal, **kwargs):
    def _decorator(func):
        signal.connect(func, **kwargs)
        return func

    return _decorator


class RewardPointGranting:
    granted_by_removal = Signal()


class Evaluation:
    def __init__(self, pk, semester):
        self.pk = pk
        self.semester = semester


class HttpRequest:
    def __init__(self, path, user):
        self.path = path
        self.user = user
        self.POST = {"participants": ["user%d" % n for n in range(40)]}
        self._messages = []


class messages:
    @staticmethod
    def info(request, text):
        request._messages.append(text)


def helper_evaluation_edit(request, semester, evaluation):
    @receiver(RewardPointGranting.granted_by_removal, sender=evaluation, weak=True)
    def notify_reward_points(grantings, **_kwargs):
        for granting in grantings:
            messages.info(request, "%s now has %d reward points" % granting)

    # ... the form is validated and saved; removing participants may grant points:
    removed = request.POST["participants"][:2]
    RewardPointGranting.granted_by_removal.send(sender=evaluation, grantings=[(u, 3) for u in removed])
    return "200 OK"


_ids = itertools.count()


def request(i):
    """One POST to the staff evaluation edit page."""
    n = next(_ids)
    return helper_evaluation_edit(HttpRequest("/staff/evaluation/%d/edit" % n, "manager"), "WS23", Evaluation(n, "WS23"))


def main(requests=500):
    for i in range(requests):
        request(i)
    RewardPointGranting.granted_by_removal._clear_dead_receivers()
    return len(RewardPointGranting.granted_by_removal.receivers)


if __name__ == "__main__":
    held = main()
    print(f"served edits; receivers connected to granted_by_removal: {held}")
