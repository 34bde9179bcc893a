"""A small service-like program for trying `memlens run` and its reports.

    memlens run tests/capture/programs/alloc_report_demo.py 20000

It parses records (short-lived allocations), keeps a cache that is never
trimmed (memory still live at exit), builds one large temporary index (the
peak), and renders a report in a worker thread.
"""
import sys
import threading

CACHE = {}


def parse_record(i):
    fields = ("user-%d" % i, "order-%d" % (i * 7), "x" * (i % 40))
    return {"id": i, "fields": list(fields), "total": i * 1.5}


def remember(record):
    CACHE[record["id"]] = (record["fields"][0], bytes(256))


def build_index(records):
    index = {}
    for r in records:
        index.setdefault(r["fields"][0][:6], []).append(r)
    return index


def render(records, out):
    out.append("\n".join("%s %s" % (r["id"], r["total"]) for r in records))


def main(n):
    records = [parse_record(i) for i in range(n)]
    for r in records[::10]:
        remember(r)
    index = build_index(records)
    del records
    out = []
    worker = threading.Thread(target=render, args=(sum(index.values(), []), out), name="renderer")
    worker.start()
    worker.join()
    print("%d groups, %d cached, report of %d bytes" % (len(index), len(CACHE), len(out[0])))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
