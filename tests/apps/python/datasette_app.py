"""Datasette 0.65 (a self-hosted app) as `python datasette_app.py` (PORT, FIX): writes a small SQLite file, then
becomes `datasette serve` on it (exec: same process id), 5 rows a page so pages have a next page.

Routes: Datasette's own, e.g. /offload/colours (table HTML: <link rel="alternate" ...> and the Link header carry
an absolute URL), /offload/colours.json (JSON "next_url", and "toggle_url" of facets with ?_facet=shade),
/-/versions.json.

Datasette builds those absolute URLs from the request (scheme + Host header: Datasette.absolute_url joins
request.url). `datasette serve` runs uvicorn with its defaults, which trust X-Forwarded-Proto only from 127.0.0.1
(https://uvicorn.dev/settings/#http), so behind a front end that sends only X-ARR-SSL, or whose peer is another
address, the links come out http:// (known: https://github.com/simonw/datasette/issues/2215); a front end that
rewrites Host (nginx's default) also puts its upstream address (127.0.0.1:PORT) in them.

FIX=1: `--setting force_https_urls 1`, Datasette's documented setting for this
(https://docs.datasette.io/en/stable/settings.html#force-https-urls): absolute URLs and request.scheme become
https whatever the request says. It fixes the X-ARR-SSL-only case too, but not a rewritten Host.
"""

import os
import sqlite3
import sys
import tempfile

db = os.path.join(tempfile.gettempdir(), f"offload-datasette-{os.environ['PORT']}", "offload.db")
os.makedirs(os.path.dirname(db), exist_ok=True)
if os.path.exists(db):
    os.remove(db)
with sqlite3.connect(db) as conn:
    conn.execute("create table colours (id integer primary key, name text, shade text)")
    conn.executemany("insert into colours (name, shade) values (?, ?)",
                     [(f"colour {i}", "dark" if i % 2 else "light") for i in range(12)])
conn.close()

argv = [sys.executable, "-m", "datasette", "serve", db, "--host", "127.0.0.1", "--port", os.environ["PORT"],
        "--setting", "default_page_size", "5"]
if os.environ.get("FIX") == "1":
    argv += ["--setting", "force_https_urls", "1"]
os.execv(sys.executable, argv)
