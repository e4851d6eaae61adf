"""Router suggestions per second: in-process on one core, and over HTTP beside a trivial endpoint.

.venv/bin/python bench/routing_suggest.py [--seconds 10] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import time

from common import ROOT, fresh_postgres, prepare, server, server_env, texts
from loadgen import json_request, run


def in_process(corpus: list[str], calls: int, semantic: bool = True) -> dict:
    """One text at a time, on one core (numpy's BLAS held to one thread)."""
    from threadpoolctl import threadpool_limits

    from participation.routing.router import CatalogView, Router

    catalog = json.loads((ROOT / "participation" / "catalog" / "demo" / "catalog.json").read_text(encoding="utf-8"))
    router = Router(CatalogView.from_document(catalog), semantic=semantic)
    with threadpool_limits(limits=1):
        for text in corpus[:20]:
            router.suggest(text)  # warm caches (jieba dictionary, stems)
        started = time.perf_counter()
        for n in range(calls):
            router.suggest(corpus[n % len(corpus)])
        elapsed = time.perf_counter() - started
    return {"calls": calls, "per_second": round(calls / elapsed, 1), "ms_per_call": round(elapsed / calls * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    corpus = texts()
    local = in_process(corpus, args.calls)
    lexical = in_process(corpus, args.calls, semantic=False)

    env = server_env(fresh_postgres("participation_bench_suggest"))
    prepare(env)

    def suggest(n: int):
        return json_request("POST", "/api/v1/routing/suggest", {"text": corpus[n % len(corpus)]})

    with server(env) as base:
        run(base, suggest, seconds=2, workers=2)
        baseline = run(
            base, lambda n: json_request("GET", "/api/v1/health"), seconds=args.seconds, workers=args.workers
        )
        http = run(base, suggest, seconds=args.seconds, workers=args.workers)
    print(
        json.dumps(
            {
                "in_process_one_core": local,
                "in_process_one_core_without_sentence_model": lexical,
                "baseline_health_http": baseline,
                "suggest_http": http,
                "http_ratio_to_baseline": round(http["per_second"] / baseline["per_second"], 3),
                "targets": {"in_process_per_second_at_least": 500},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
