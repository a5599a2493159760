"""bench/run: every benchmark in one go, compared with the targets of DESIGN.md §7.

Exits non-zero only when a benchmark crashes; a missed target is printed as MISSED.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import (
    gitmicro,
    lifecycle,
    publishers,
    render,
    repogen,
    stats,
    syncbench,
    syncmany,
    variants,
)
from lanai.git import probe
from lanai.local import gitserver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "--revisions", type=int, default=10_000, help="published revisions in the big repository"
    )
    parser.add_argument("--publishers", type=int, default=50, help="concurrent publishers")
    parser.add_argument("--noop-syncs", type=int, default=10, help="no-op syncs to time")
    parser.add_argument(
        "--only",
        action="append",
        choices=["git", "publishers", "sync", "sync-many", "lifecycle", "render", "variants"],
        help="run only these (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--samples", type=int, default=100, help="lifecycle samples per step")
    parser.add_argument(
        "--others",
        type=int,
        action="append",
        help="also measure the lifecycle with this many other revisions in the namespace "
        "(repeatable: --others 1000 --others 10000)",
    )
    parser.add_argument(
        "--others-within",
        type=int,
        action="append",
        help="also measure the lifecycle with this many other revisions in the steps' own "
        "repository (repeatable)",
    )
    parser.add_argument(
        "--repositories",
        type=int,
        default=1,
        help="Repositories registered in the lifecycle namespace (with --others)",
    )
    parser.add_argument(
        "--sites", type=int, default=100, help="Repositories the variant set targets"
    )
    args = parser.parse_args(argv)
    chosen = set(
        args.only or ["git", "publishers", "sync", "sync-many", "lifecycle", "render", "variants"]
    )
    workdir = Path(tempfile.mkdtemp(prefix="lanai-bench-"))
    shape = repogen.Shape.for_revisions(args.revisions)
    report = stats.Report()
    crashed: list[str] = []
    print(
        f"lanai bench {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M}Z, "
        f"{os.cpu_count()} CPUs, {shape.packages} packages x {shape.revisions_per_package} "
        f"revisions, load average {os.getloadavg()[0]:.1f}, work dir {workdir}",
        flush=True,
    )

    def step(name: str, fn: object) -> None:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            fn()  # type: ignore[operator]
        except Exception:
            traceback.print_exc()
            crashed.append(name)
        print(f"   ({time.perf_counter() - started:.0f}s)", flush=True)

    if "git" in chosen:

        def git_micro() -> None:
            root = workdir / "micro"
            repogen.create(root / "git" / "big.git", shape)
            server = gitserver.GitServer(
                root / "git", gitserver.Credentials(users={"bench": "bench-pass"})
            ).start()
            try:
                gitmicro.run(
                    f"{server.url}/big.git", probe.RemoteAuth("bench", "bench-pass"), root, report
                )
            finally:
                server.stop()
                shutil.rmtree(root, ignore_errors=True)

        step(f"4. Git: fetch + list_revisions, {shape.published} revisions", git_micro)
    if "publishers" in chosen:
        step(
            f"3. {args.publishers} concurrent publishers on one repository",
            lambda: publishers.run(args.publishers, workdir / "publishers", report),
        )
    if "sync" in chosen:
        step(
            f"1+2. cold and no-op sync through the operator, {shape.published} revisions",
            lambda: syncbench.run(
                shape,
                workdir / "sync",
                report,
                noop_syncs=args.noop_syncs,
                small=repogen.Shape(10, 10),
            ),
        )

    if "sync-many" in chosen:
        step(
            "1b. cold sync of 100 Repositories x 100 revisions through the operator",
            lambda: syncmany.run(workdir / "sync-many", report),
        )
    if "lifecycle" in chosen:
        step(
            "5. lifecycle latencies and their floors: init, propose, approve, copy, clone",
            lambda: lifecycle.run(workdir / "lifecycle", report, samples=args.samples),
        )
        for others in args.others or []:
            step(
                f"5. the same with {others} other revisions and {args.repositories} "
                "Repositories in the namespace",
                lambda others=others: lifecycle.run(
                    workdir / f"lifecycle-{others}",
                    report,
                    samples=args.samples,
                    others=others,
                    repositories=args.repositories,
                    label=f"{others} others",
                ),
            )
        for others in args.others_within or []:
            step(
                f"5. the same with {others} other revisions in the steps' own repository",
                lambda others=others: lifecycle.run(
                    workdir / f"lifecycle-within-{others}",
                    report,
                    samples=args.samples,
                    others=others,
                    label=f"{others} others in the same repository",
                    within=True,
                ),
            )

    if "render" in chosen:
        step("6. render of a 100-resource package, 3 builtin functions", lambda: render.run(report))

    if "variants" in chosen:
        step(
            f"7. PackageVariantSet over {args.sites} Repositories, and the upgrade wave",
            lambda: variants.run(workdir / "variants", report, sites=args.sites),
        )

    print("\n## Results\n")
    print(report.table())
    for note in report.notes:
        print(f"\n{note}")
    if report.missed:
        print("\nMISSED targets:")
        for row in report.missed:
            print(f"  MISSED {row.measure}: {row.value:.4g} {row.unit} > {row.target:g} {row.unit}")
    if crashed:
        print(f"\nCRASHED: {', '.join(crashed)}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
