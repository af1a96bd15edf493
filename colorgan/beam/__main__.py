"""python -m colorgan.beam --input=PATTERN [--input=...] --output_dir=OUT [--model=...]
[Beam pipeline options: --runner, --direct_num_workers, --project, ...]

Colorizes every photo the patterns match (local or gs://; a folder means all its photos)
into OUT with Apache Beam, and writes OUT/colorgan_results.jsonl (input, output, status,
seconds, bytes, size, reason). The same bytes as colorize.py for the same photos. Options
this script does not know go to Beam (PipelineOptions), as in Beam's own examples;
docs/archives.md has the DirectRunner, Dataflow, Flink and Spark command lines.
Exit code 1 if any photo failed, 2 for a bad option or path.
"""

import argparse
import sys

from colorgan import cli  # noqa: F401  first: quiets TensorFlow's start-up

try:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
except ImportError:
    sys.exit("python -m colorgan.beam: error: Apache Beam is not installed: "
             "pip install 'colorgan[beam]'")

from colorgan.beam import pipeline  # noqa: E402  (after the check above)
from colorgan import modelpath  # noqa: E402
from colorgan.errors import UserError  # noqa: E402


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m colorgan.beam", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", action="append", required=True,
                        help="A file pattern or folder (repeat for more).")
    parser.add_argument("--output_dir", required=True, help="Where the colour photos go.")
    parser.add_argument("--model", default="pretrained", help="As colorize.py's --model.")
    parser.add_argument("--render_size", type=int, default=0)
    parser.add_argument("--restore", action="store_true", help="Restore old-photo scans first.")
    parser.add_argument("--upscale", type=int, default=1, choices=(1, 2, 4))
    parser.add_argument("--format", default="png", choices=("png", "jpg"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                        help="As colorize.py's --precision.")
    parser.add_argument("--batch", type=int, default=1,
                        help="Photos per generator call (1: bytes independent of batching).")
    parser.add_argument("--tf_threads", type=int, default=0,
                        help="TensorFlow threads per worker (0: all cores; with N workers on "
                             "one machine, cores / N).")
    return parser.parse_known_args(argv)


def main(argv=None) -> int:
    args, beam_args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if args.batch < 1:
            raise UserError(f"--batch={args.batch} must be >= 1")
        post = {}
        if args.restore:
            post["restore"] = True
        if args.upscale != 1:
            post["upscale"] = args.upscale
        job = pipeline.Job(model=args.model, render_size=args.render_size,
                           post_processing=tuple(post.items()), fmt=args.format,
                           batch=args.batch, threads=args.tf_threads,
                           precision=args.precision)
        modelpath.identify(args.model)  # a bad --model: one line here, not in every worker
        pairs = pipeline.plan(args.input, args.output_dir, args.format)
        options = PipelineOptions(beam_args, save_main_session=False)
        print(f"colorgan.beam: {len(pairs)} photos -> {args.output_dir}", flush=True)
        with beam.Pipeline(options=options) as p:
            pipeline.build(p, pairs, args.output_dir, job)
    except UserError as e:
        print(f"colorgan.beam: error: {e}", file=sys.stderr)
        return 2
    results = pipeline.read_results(args.output_dir)
    failed = [r for r in results if r["status"] != "done"]
    for r in failed:
        print(f"colorgan.beam: failed: {r['input']}: {r.get('reason')}", flush=True)
    print(f"colorgan.beam: {len(results) - len(failed)} written in {args.output_dir}, "
          f"{len(failed)} failed (recorded in {pipeline.results_path(args.output_dir)})",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
