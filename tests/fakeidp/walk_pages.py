#!/usr/bin/env python3
"""Read every page of an Okta list from fakeidp and print what it cost.

Follows Link rel="next" over one keep-alive connection, as the agent does,
and prints the page count, the item count, the bytes received and the wall
time. Used to measure fakeidp with --synthetic, for example:

    build/fakeidp --synthetic 1000000 --port-file /tmp/port &
    tests/fakeidp/walk_pages.py --port "$(cat /tmp/port)"

Only the standard library is needed. Exits 1 when a page is not a 200 with
a JSON array.
"""
import argparse
import http.client
import json
import re
import sys
import time

NEXT_LINK = re.compile(r'<https?://[^/>]+([^>]*)>;\s*rel="next"')


def next_path(response):
    """Return the path and query of the rel="next" Link header, or None."""
    for name, value in response.getheaders():
        if name.lower() != "link":
            continue
        match = NEXT_LINK.search(value)
        if match:
            return match.group(1)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="fakeidp port on 127.0.0.1")
    parser.add_argument("--path", default="/api/v1/apps/0oaapp1/users?limit=500&expand=user",
                        help="first page (default: %(default)s)")
    parser.add_argument("--token", default=None, help="API token sent as SSWS TOKEN")
    args = parser.parse_args()

    headers = {"Authorization": "SSWS " + args.token} if args.token else {}
    connection = http.client.HTTPConnection("127.0.0.1", args.port)
    path = args.path
    pages = items = received = 0
    start = time.monotonic()
    while path:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"walk_pages: {path}: status {response.status}: {body[:200]!r}")
        page = json.loads(body)
        if not isinstance(page, list):
            sys.exit(f"walk_pages: {path}: body is not a JSON array")
        pages += 1
        items += len(page)
        received += len(body)
        path = next_path(response)
    elapsed = time.monotonic() - start
    print(f"pages {pages}, items {items}, bytes {received}, seconds {elapsed:.1f}")


if __name__ == "__main__":
    main()
