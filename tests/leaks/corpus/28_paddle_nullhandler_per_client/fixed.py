"""The same client adding the NullHandler only once.

As PaddleHQ/paddle-python-sdk#144 proposes: guard ``addHandler`` with
``hasHandlers()`` (or configure the null logger once at import).
"""

import logging


class Client:
    def __init__(self, api_key, options=None, logger=None):
        self.api_key = api_key
        self.options = options or {"environment": "sandbox", "max_retries": 3}
        self.log = logger if logger else Client.null_logger()
        self.log.debug("Client initialised")

    @staticmethod
    def null_logger():
        null_logger = logging.getLogger("null_logger")
        if not null_logger.hasHandlers():
            null_logger.addHandler(logging.NullHandler())
        return null_logger

    def get_transaction(self, transaction_id):
        self.log.info("GET /transactions/%s", transaction_id)
        return {"id": transaction_id, "status": "completed"}


def request(i):
    """A webhook arrives; the handler builds a client to look the transaction up."""
    client = Client("pdl_sdbx_apikey_%032d" % i)
    return client.get_transaction("txn_%026d" % i)["status"]


def main(requests=5000):
    return sum(request(i) == "completed" for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"handled webhooks; handlers on 'null_logger': {len(logging.getLogger('null_logger').handlers)}")
