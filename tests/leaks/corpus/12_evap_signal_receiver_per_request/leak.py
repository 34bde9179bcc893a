"""A view that connects a signal receiver on every request, strongly.

Rebuilt from e-valuation/EvaP#1361: ``helper_evaluation_edit`` defines a
receiver for ``RewardPointGranting.granted_by_removal`` inside the view, so each
request connects a new one, and the receiver captures ``request``. With a
strong connection (``weak=False``, which the issue tried) the signal keeps every
receiver and every request it captured; the default weak connection is what
lets them go.
"""

import itertools


class Signal:
    """Django's dispatcher, reduced to what matters: a list of receivers."""

    def __init__(self):
        self.receivers = []

    def connect(self, receiver, sender=None, weak=True, dispatch_uid=None):
        lookup_key = (dispatch_uid or id(receiver), id(sender))
        if weak:
            raise NotImplementedError("this build only connects strongly")
        self.receivers.append((lookup_key, receiver))

    def send(self, sender, **named):
        return [
            (receiver, receiver(signal=self, sender=sender, **named))
            for (_, sender_key), receiver in self.receivers
            if sender_key in (id(None), id(sender))
        ]


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
    @receiver(RewardPointGranting.granted_by_removal, sender=evaluation, weak=False)
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
    return len(RewardPointGranting.granted_by_removal.receivers)


if __name__ == "__main__":
    held = main()
    print(f"served edits; receivers connected to granted_by_removal: {held}")
