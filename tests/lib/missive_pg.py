"""The tests' side of Missive's PostgreSQL store: which backend a test run uses, a fresh
database per server, and the tests' own queries through psycopg2.

MISSIVE_TEST_STORE=postgresql runs the servers of a test file on PostgreSQL (default:
SQLite in each data directory). The cluster's URL comes from MISSIVE_TEST_PG_URL, or from
the file MISSIVE_TEST_PG_URL_FILE names (written by the ctest fixture, pg_cluster.py).
"""

import atexit
import itertools
import os
import queue
import re
import sys
import threading
import time
import urllib.parse
import uuid


class PgHarnessError(AssertionError):
    """The PostgreSQL side of the harness cannot do its job (a failure, never a skip)."""


def require_psycopg2():
    """Import psycopg2. Debian's python3-psycopg2 installs it for the system Python; under
    another Python 3 (pyenv, venv) its directory is appended to sys.path, as for aiosmtpd."""
    try:
        import psycopg2
        return psycopg2
    except ImportError as first:
        d = "/usr/lib/python3/dist-packages"
        if os.path.isdir(os.path.join(d, "psycopg2")) and d not in sys.path:
            sys.path.append(d)
        try:
            import psycopg2
            return psycopg2
        except ImportError as e:
            raise PgHarnessError(f"required module psycopg2 is not importable ({first}; {e}); "
                                 f"install python3-psycopg2") from None


def store_backend():
    """The backend the servers of this run use: "sqlite" (default) or "postgresql"."""
    store = os.environ.get("MISSIVE_TEST_STORE", "sqlite").strip().lower() or "sqlite"
    if store not in ("sqlite", "postgresql"):
        raise PgHarnessError(f"MISSIVE_TEST_STORE={store!r}: expected sqlite or postgresql")
    return store


def on_postgresql():
    return store_backend() == "postgresql"


def cluster_url():
    """The URL of the test cluster's maintenance database, or None when there is none."""
    url = os.environ.get("MISSIVE_TEST_PG_URL", "").strip()
    if url:
        return url
    path = os.environ.get("MISSIVE_TEST_PG_URL_FILE", "").strip()
    if path:
        try:
            with open(path) as f:
                return f.read().strip() or None
        except FileNotFoundError:
            return None
    return None


def require_cluster_url():
    url = cluster_url()
    if not url:
        raise PgHarnessError("no PostgreSQL for the tests: set MISSIVE_TEST_PG_URL, or "
                             "MISSIVE_TEST_PG_URL_FILE to the file the ctest fixture writes "
                             "(tests/lib/pg_cluster.py start DIR)")
    return url


def with_database(url, name):
    """The same URL naming another database."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


# -- the tests' SQL, written for SQLite, on PostgreSQL -------------------------------------
#
# The test files query the store with SQLite's dialect. The PostgreSQL schema has the same
# tables and columns, so only these differ (kept explicit: a query that needs more fails
# loudly rather than being guessed at):
#   ?                          -> %s  (psycopg2's placeholder; a literal % doubled)
#   FROM/JOIN user             -> "user"  (a reserved word in PostgreSQL)
#   X = ? COLLATE NOCASE       -> lower(X) = lower(%s)
#   PRAGMA ...                 -> an error: the test is about SQLite itself

_USER_TABLE = re.compile(r"(?i)\b(FROM|JOIN|INTO|UPDATE)\s+user\b")
_NOCASE = re.compile(r"(?i)([\w.]+)\s*=\s*\?\s+COLLATE\s+NOCASE")


def translate_sql(sql):
    """A query in the tests' SQLite dialect, in PostgreSQL's (see above)."""
    if re.match(r"(?i)\s*PRAGMA\b", sql):
        raise PgHarnessError(f"{sql!r} is SQLite's: this test belongs to the SQLite backend only")
    sql = sql.replace("%", "%%")
    sql = _NOCASE.sub(r"lower(\1) = lower(?)", sql)
    sql = _USER_TABLE.sub(r'\1 "user"', sql)
    return sql.replace("?", "%s")


def _plain(value):
    """bytea comes back as a memoryview; the tests compare bytes, as sqlite3 gives them."""
    return bytes(value) if isinstance(value, memoryview) else value


class PgDatabase:
    """One database in the test cluster. create() makes a fresh one with a unique name;
    drop() removes it (forcing out any session left)."""

    _counter = itertools.count(1)

    def __init__(self, name, base_url=None):
        self.name = name
        self.base_url = base_url or require_cluster_url()
        self.url = with_database(self.base_url, name)
        self._conn = None
        self._lock = threading.Lock()

    @classmethod
    def create(cls, prefix="missive_t", base_url=None):
        name = f"{prefix}_{os.getpid()}_{next(cls._counter)}_{uuid.uuid4().hex[:8]}"
        db = cls(name, base_url)
        db.admin(f'CREATE DATABASE "{name}"')
        return db

    def admin(self, sql):
        """Run a statement in the maintenance database (CREATE/DROP DATABASE)."""
        psycopg2 = require_psycopg2()
        conn = psycopg2.connect(self.base_url, connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def connect(self):
        """A new autocommit connection to this database (the caller closes it)."""
        psycopg2 = require_psycopg2()
        conn = psycopg2.connect(self.url, connect_timeout=10)
        conn.autocommit = True
        return conn

    def execute_script(self, sql):
        """Run SQL text as it is (e.g. a schema file), no translation."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def query(self, sql, params=()):
        """Rows of one query written in the tests' SQLite dialect (see translate_sql). One
        connection is kept and opened again after an error (PostgreSQL may have restarted);
        autocommit, so that every query sees what was committed before it."""
        psycopg2 = require_psycopg2()
        text = translate_sql(sql)
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = self.connect()
                try:
                    with self._conn.cursor() as cur:
                        cur.execute(text, tuple(params))
                        rows = cur.fetchall() if cur.description is not None else []
                    return [tuple(_plain(v) for v in row) for row in rows]
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    self.close()
                    if attempt == 2:
                        raise

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def drop(self):
        self.close()
        if os.environ.get("MISSIVE_KEEP_TMP"):
            return
        for attempt in range(3):
            try:
                self.admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                return
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(0.2)


class PgStore:
    """Where a server keeps its store on PostgreSQL: a database, this node's name, other
    [store] keys (e.g. lease = "5s"). owns: drop the database when the server is cleaned up
    (a database two nodes share belongs to the test, not to either node)."""

    def __init__(self, database, node=None, owns=False, **keys):
        self.database = database
        self.node = node or f"n{uuid.uuid4().hex[:8]}"
        self.owns = owns
        self.keys = keys

    @classmethod
    def fresh(cls, **keys):
        """A store on a new database of its own."""
        return cls(PgDatabase.create(), owns=True, **keys)

    def section(self):
        """The [store] section of a config file."""
        lines = ["[store]", f'url = "{self.database.url}"', f'node = "{self.node}"']
        lines += [f'{k} = "{v}"' for k, v in self.keys.items()]
        return "\n".join(lines) + "\n"

    def release(self):
        self.database.close()
        if self.owns:
            drop_later(self.database)


# DROP DATABASE takes about a second here (it waits for a checkpoint): the databases of
# servers that are done are dropped by one thread beside the tests, and the process waits
# for the last ones at exit (the cluster itself is removed at the end of the run anyway).
_drops = queue.Queue()
_dropper = None
_dropper_lock = threading.Lock()
DROP_WAIT_AT_EXIT = 60


def _drop_loop():
    while True:
        database = _drops.get()
        try:
            database.drop()
        except Exception as e:
            sys.stderr.write(f"missive_pg: could not drop database {database.name}: {e}\n")
        finally:
            _drops.task_done()


def _wait_for_drops():
    deadline = time.monotonic() + DROP_WAIT_AT_EXIT
    while _drops.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.05)


def drop_later(database):
    """Drop a database in the background (see above)."""
    global _dropper
    with _dropper_lock:
        if _dropper is None:
            _dropper = threading.Thread(target=_drop_loop, name="drop-databases", daemon=True)
            _dropper.start()
            atexit.register(_wait_for_drops)
    _drops.put(database)


def resolve_store(store):
    """The PgStore of a server, or None for SQLite in its data directory. store: what the
    test chose: a PgStore, "sqlite", or None for the run's backend (on PostgreSQL, a fresh
    database)."""
    if store is None:
        return PgStore.fresh() if on_postgresql() else None
    if store == "sqlite":
        return None
    if not isinstance(store, PgStore):
        raise PgHarnessError(f"store={store!r}: expected None, 'sqlite' or a PgStore")
    return store


def sqlite_only(reason):
    """Decorator of a test about SQLite itself (its file, its pragmas): skipped on
    PostgreSQL, where it has nothing to test."""
    import unittest
    return unittest.skipIf(on_postgresql(), f"about the SQLite store only: {reason}")
