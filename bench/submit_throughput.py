"""Submit-to-ticket throughput on PostgreSQL beside a trivial endpoint on the same server.

A submission request here does the whole pipeline before it answers (embedded mode: the
analysis task runs in-process after commit): store the submission, ticket and event, analyse
the text, route it, create the parts, write the events and publish the live events.

    .venv/bin/python bench/submit_throughput.py [--seconds 15] [--workers 8]
"""

from __future__ import annotations

import argparse
import json

from common import fresh_postgres, prepare, server, server_env, texts
from loadgen import json_request, run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    url = fresh_postgres("participation_bench")
    # The corpus repeats its texts: without this, repeats would be merged as duplicates (no parts of their own).
    env = server_env(
        url,
        PARTICIPATION_ROUTING_AUTO_DISPATCH="true",
        PARTICIPATION_ROUTING_CONFIDENCE_THRESHOLD="0.0",
        PARTICIPATION_DUPLICATE_AUTO_MERGE="false",
    )
    prepare(env)
    corpus = texts()

    def submission(n: int):
        return json_request(
            "POST", "/api/v1/submissions", {"kind": "complaint", "anonymous": True, "text": corpus[n % len(corpus)]}
        )

    with server(env) as base:
        run(base, submission, seconds=3, workers=2)  # warm up: models load on first use
        baseline = run(
            base, lambda n: json_request("GET", "/api/v1/health"), seconds=args.seconds, workers=args.workers
        )
        submit = run(base, submission, seconds=args.seconds, workers=args.workers)
        half = submit["per_second"] / 2
        paced = run(base, submission, seconds=args.seconds, workers=args.workers, rate=half)

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar()
        routed = conn.execute(text("SELECT count(DISTINCT ticket_id) FROM ticket_part")).scalar()
    engine.dispose()
    ratio = submit["per_second"] / baseline["per_second"] if baseline["per_second"] else 0
    print(
        json.dumps(
            {
                "baseline_health": baseline,
                "submit_to_ticket": submit,
                "ratio_to_baseline": round(ratio, 3),
                "paced_at_half_rate": {**paced, "target_rate": round(half, 1)},
                "tickets_stored": tickets,
                "tickets_with_parts": routed,
                "targets": {"ratio_at_least": 0.4, "p99_ms_at_half_rate_below": 100},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
