"""The backup and restore steps of the README, carried out on a private PostgreSQL cluster:
a logical dump restored into a new database, and a base backup + archived WAL recovered to a point in
time, after which Tsunagu's own checks find points and stock ledgers in agreement."""

import json
import shutil
import subprocess
import time
import uuid

import pytest

from .stack import PrivatePostgres, manage, pg_bin, seed, wait_until

pytestmark = pytest.mark.faults  # runs with the fault test in .ci/run (a private cluster, a minute or two)


def count_orders(postgres: PrivatePostgres, database: str, prefix: str = "") -> int:
    return int(postgres.sql(f"SELECT count(*) FROM crm_order WHERE external_ref LIKE '{prefix}%'", database))


def test_dump_and_point_in_time_recovery_bring_back_what_was_committed(tmp_path):
    timings = {}
    primary = PrivatePostgres().init(wal_level="replica", archive_mode="on", archive_timeout=0)
    archive = primary.directory / "wal_archive"
    archive.mkdir()
    shutil.chown(archive, "postgres", "postgres")
    with open(primary.data / "postgresql.auto.conf", "a") as conf:
        conf.write(f"archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'\n")
    restored = None
    try:
        primary.start()
        primary.sql("CREATE DATABASE tsunagu")
        env = {"DATABASE_URL": primary.url("tsunagu"), "DEBUG": "false", "SECRET_KEY": uuid.uuid4().hex,
               "ALLOWED_HOSTS": "x", "DJANGO_SETTINGS_MODULE": "crm.settings", "PATH": "/usr/bin:/bin",
               "CACHE_URL": "locmemcache://backup-drill"}  # fmt: skip
        migrated = manage({**env, "PGOPTIONS": "-c synchronous_commit=off"}, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        seed(env, customers=10, orders=10, prefix="A")

        # 1. base backup (compressed tar, with the WAL it needs), while the database is in use
        started = time.monotonic()
        base = primary.directory / "base"
        primary._run([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                      "-D", str(base), "-Ft", "-z", "-X", "fetch", "--checkpoint=fast"])  # fmt: skip
        timings["pg_basebackup_s"] = round(time.monotonic() - started, 1)
        seed(env, orders_only=5, prefix="B")  # after the base backup: only in the archived WAL
        target = primary.sql("SELECT now()")
        time.sleep(1.5)
        seed(env, orders_only=5, prefix="C")  # after the recovery target: must not come back
        primary.sql("SELECT pg_switch_wal()")
        wait_until(lambda: len(list(archive.iterdir())) >= 2, 60, "the WAL to be archived")

        # 2. logical dump of the database, restored into a new one
        started = time.monotonic()
        dump = primary.directory / "tsunagu.dump"
        primary._run([pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-Fc",
                      "-f", str(dump), "tsunagu"])  # fmt: skip
        primary.sql("CREATE DATABASE tsunagu_restored")
        primary._run([pg_bin("pg_restore"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                      "--no-owner", "--exit-on-error", "-d", "tsunagu_restored", str(dump)])  # fmt: skip
        timings["pg_dump_and_restore_s"] = round(time.monotonic() - started, 1)
        assert count_orders(primary, "tsunagu_restored") == 20
        for command in ("check_points", "check_stock"):
            checked = manage({**env, "DATABASE_URL": primary.url("tsunagu_restored")}, command)
            assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]

        # 3. the machine is lost: a new cluster from the base backup, replaying archived WAL up to `target`
        primary.stop("immediate")
        restored = PrivatePostgres()
        shutil.chown(restored.directory, "postgres", "postgres")
        restored._run(["mkdir", "-m", "700", str(restored.data)])
        restored._run(["tar", "-xzf", str(base / "base.tar.gz"), "-C", str(restored.data)])  # -X fetch: WAL inside
        with open(restored.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"port = {restored.port}\nunix_socket_directories = '{restored.directory}'\n"
                       f"archive_mode = off\nrestore_command = 'cp {archive}/%f %p'\n"
                       f"recovery_target_time = '{target}'\nrecovery_target_action = 'promote'\n")  # fmt: skip
        (restored.data / "recovery.signal").touch()
        subprocess.run(["chown", "-R", "postgres:postgres", str(restored.data)], check=True)
        started = time.monotonic()
        restored.start()
        wait_until(lambda: restored.sql("SELECT pg_is_in_recovery()") == "f", 120, "recovery to finish")
        timings["point_in_time_recovery_s"] = round(time.monotonic() - started, 1)
        assert count_orders(restored, "tsunagu", "A-") == 10  # in the base backup
        assert count_orders(restored, "tsunagu", "B-") == 5  # replayed from the archive
        assert count_orders(restored, "tsunagu", "C-") == 0  # after the target: not restored
        for command in ("check_points", "check_stock"):
            checked = manage({**env, "DATABASE_URL": restored.url("tsunagu")}, command)
            assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
        print(json.dumps(timings))
    finally:
        primary.remove()
        if restored is not None:
            restored.remove()
