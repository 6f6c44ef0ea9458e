"""Entry point of the CPython asyncio peer: `python3 main.py <single|sync|threads> <full|quick|tiny>`.

Prints one JSON object on stdout: the interpreter, the samples per label, and notes. Run by
bench/scenarios/asyncio.ts, which maps the labels to the multiloop figures they correspond to.
"""
import json
import platform
import sys

import single
import sync
import threads

GROUPS = {"single": single.run, "sync": sync.run, "threads": threads.run}


def main(argv):
    if len(argv) != 3 or argv[1] not in GROUPS or argv[2] not in ("full", "quick", "tiny"):
        print("usage: main.py <single|sync|threads> <full|quick|tiny>", file=sys.stderr)
        return 2
    samples, notes = GROUPS[argv[1]](argv[2])
    json.dump(
        {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "samples": samples,
            "notes": notes,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
