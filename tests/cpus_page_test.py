#!/usr/bin/env python3
"""Tests of scripts/bench_cpus.py (docs/cpus.md from benchmarks/results/), run by ctest (cpus_page).

On the two fixture files in tests/data/cpus/results/: the page and README's block equal the
expected files byte for byte and render the same twice; every field, removed or given a wrong
value, stops the renderer with the file and the field named. On the committed files: they pass
the same checks, every figure of a converted file is written in the source it names, and
docs/cpus.md and README.md's block are what `scripts/bench --cpus` writes from them.

After a deliberate change of the page's layout, regenerate the expected files with
  /usr/bin/python3 tests/cpus_page_test.py --regenerate
and read their diff.
"""
import contextlib
import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_cpus as bc  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data", "cpus")
FIXTURES = os.path.join(DATA, "results")
EXPECTED_PAGE = os.path.join(DATA, "expected-cpus.md")
EXPECTED_README = os.path.join(DATA, "expected-README.md")


def read(path):
    with open(path) as f:
        return f.read()


class Tree:
    """A temporary copy of the repository's layout: benchmarks/results/, docs/, README.md."""

    def __init__(self, files=None):
        self.dir = tempfile.mkdtemp(prefix="cpus_page_test.")
        self.results = os.path.join(self.dir, "benchmarks", "results")
        os.makedirs(self.results)
        os.makedirs(os.path.join(self.dir, "docs"))
        self.page = os.path.join(self.dir, "docs", "cpus.md")
        self.readme = os.path.join(self.dir, "README.md")
        shutil.copy(os.path.join(DATA, "README.in.md"), self.readme)
        for name, data in (self.fixtures() if files is None else files).items():
            self.write(name, data)

    @staticmethod
    def fixtures():
        return {n: json.loads(read(os.path.join(FIXTURES, n))) for n in sorted(os.listdir(FIXTURES))}

    def write(self, name, data):
        with open(os.path.join(self.results, name), "w") as f:
            f.write(data if isinstance(data, str) else bc.dumps(data))

    def render(self, write=True, readme=True):
        return bc.render(self.results, self.page, self.readme if readme else None, None, write=write)

    def close(self):
        shutil.rmtree(self.dir)


def schema_paths(data, prefix=()):
    """Every key path whose removal breaks a file: all but the entries of the open maps
    (peak_gops, quick_set, and reference's ISAs other than the best one)."""
    out = []
    for k, v in data.items():
        p = prefix + (k,)
        if prefix == () and k == "quick_set":
            continue  # optional as a whole
        out.append(p)
        if isinstance(v, dict) and p not in (("peak_gops",),):
            if p == ("reference",):
                out += schema_paths_reference(v)
            else:
                out += schema_paths(v, p)
    return out


def schema_paths_reference(ref):
    out = []
    for isa, entry in ref.items():
        out.append(("reference", isa))
        for k, v in entry.items():
            out.append(("reference", isa, k))
            if k == "gops":
                for shape, pair in v.items():
                    out.append(("reference", isa, "gops", shape))
                    out += [("reference", isa, "gops", shape, side) for side in pair]
    return out


def get_parent(data, path):
    for k in path[:-1]:
        data = data[k]
    return data


class FixturePage(unittest.TestCase):
    def setUp(self):
        self.tree = Tree()

    def tearDown(self):
        self.tree.close()

    def test_page_and_readme_match_the_expected_files(self):
        self.tree.render()
        self.assertEqual(read(self.tree.page), read(EXPECTED_PAGE))
        self.assertEqual(read(self.tree.readme), read(EXPECTED_README))

    def test_same_files_same_page(self):
        self.tree.render()
        first = (read(self.tree.page), read(self.tree.readme))
        self.assertEqual(self.tree.render(), [])  # nothing to rewrite
        self.assertEqual((read(self.tree.page), read(self.tree.readme)), first)
        # The order files are found in does not matter: write them again in reverse.
        for n in sorted(os.listdir(self.tree.results), reverse=True):
            data = read(os.path.join(self.tree.results, n))
            os.remove(os.path.join(self.tree.results, n))
            self.tree.write(n, data)
        self.assertEqual(self.tree.render(), [])

    def test_check_reports_a_stale_page(self):
        self.tree.render()
        with open(self.tree.page, "a") as f:
            f.write("edited by hand\n")
        self.assertEqual(self.tree.render(write=False), [self.tree.page])
        with contextlib.redirect_stderr(io.StringIO()) as err:
            rc = bc.main(["bench_cpus.py", "check", self.tree.results, "--page", self.tree.page,
                          "--readme", self.tree.readme])
        self.assertEqual(rc, 1)
        self.assertIn("out of date", err.getvalue())

    def test_readme_block_is_short_and_only_the_block_changes(self):
        self.tree.render()
        text = read(self.tree.readme)
        b, e = text.index(bc.README_BEGIN), text.index(bc.README_END)
        self.assertLessEqual(text[b:e].count("\n") + 1, 15)
        self.assertTrue(text.startswith("# Fixture README\n\nText before.\n\n" + bc.README_BEGIN))
        self.assertTrue(text.endswith(bc.README_END + "\n\nText after.\n"))
        self.assertNotIn("old block", text)

    def test_readme_without_markers_is_an_error(self):
        for broken in ["no markers\n", bc.README_BEGIN + "\n", bc.README_END + "\n" + bc.README_BEGIN + "\n",
                       (bc.README_BEGIN + "\n" + bc.README_END + "\n") * 2]:
            with open(self.tree.readme, "w") as f:
                f.write(broken)
            with self.assertRaisesRegex(bc.ResultError, "README.md: needs exactly one pair"):
                self.tree.render()

    def test_figures_in_the_page(self):
        self.tree.render()
        page = read(self.tree.page)
        # Fixture A, best ISA: qgemm / oneDNN (ratio) at 1x768x768 and 128x4096x4096.
        self.assertIn("| Zen 5 | avx512vnni | 200.0 / 160.0 (1.25) |", page)
        self.assertIn("| 864.0 / 864.0 (1.00) | measured 2026-12-03 |", page)
        # Percent of peak at 128x768x768 / 128x4096x4096 (of 960) and M = 1 weights (GOPS / 2).
        self.assertIn("| 960.0 | 83% / 90% | 92% / 90% | 25.0 | 50.0 / 62.5 (200% / 250%) |", page)
        # Fixture B: unknown model, nulls shown as dashes, oneDNN without a limit shown as "none".
        self.assertIn("| family 6 model 999 | avx512bw | 50.5 / 25.2 (2.00) |", page)
        self.assertIn("| 120.0 / — (—) | — | converted 2026-11-23 |", page)
        self.assertIn("| family 6 model 999 | avx512bw | none | 50.5 (2.00) |", page)
        self.assertIn("| family 6 model 999 | avx2 | `AVX2` | — | — | — | — | — | — |", page)
        self.assertIn("Fixture notes.", page)
        # Sorted by vendor: AuthenticAMD before GenuineIntel.
        self.assertLess(page.index("| Zen 5 |"), page.index("| family 6 model 999 |"))


class BrokenFiles(unittest.TestCase):
    def assert_refused(self, files, *words):
        tree = Tree(files)
        try:
            with self.assertRaises(bc.ResultError) as cm:
                tree.render()
            for w in words:
                self.assertIn(w, str(cm.exception))
            self.assertFalse(os.path.exists(tree.page), "nothing is written from a broken file")
        finally:
            tree.close()

    def test_every_field_missing(self):
        count = 0
        for name, data in Tree.fixtures().items():
            for path in schema_paths(data):
                if path[0] == "reference" and len(path) == 2 and path[1] != data["best_isa"]:
                    continue  # an ISA without figures may be left out
                broken = copy.deepcopy(data)
                del get_parent(broken, path)[path[-1]]
                files = Tree.fixtures()
                files[name] = broken
                field = ".".join(path) if not (len(path) == 2 and path[0] == "reference") else "best_isa"
                with self.subTest(file=name, field=".".join(path)):
                    self.assert_refused(files, name, field)
                count += 1
        self.assertGreater(count, 120)  # the walk reached the nested fields

    def test_wrong_values(self):
        cases = [
            (("schema",), 2, "schema: must be 1"),
            (("cpu", "family"), "26", "cpu.family: must be an integer"),
            (("cpu", "model"), None, "cpu.model: must be an integer"),
            (("cpu", "vm"), "yes", "cpu.vm: must be true or false"),
            (("cpu", "isa_flags"), "avx2", "cpu.isa_flags: must be a list"),
            (("cpu", "caches_kib", "l2"), "1 MiB", "cpu.caches_kib.l2"),
            (("date",), "2026/12/03", "date: must be YYYY-MM-DD"),
            (("source", "kind"), "guessed", "source.kind"),
            (("source", "notes"), None, "source.notes"),
            (("best_isa",), "amx", "best_isa: \"amx\" has no entry"),
            (("peak_gops", "avx2"), -1.0, "peak_gops.avx2: must be a number or null above 0"),
            (("read_bw_gbps",), 0, "read_bw_gbps"),
            (("reference", "avx512vnni", "gops", "1x768x768", "qgemm"), "fast", "reference.avx512vnni.gops.1x768x768.qgemm"),
            (("reference", "avx512vnni", "gops", "8x768x768", "onednn"), 0.0, "8x768x768.onednn: must be a number or null above 0"),
            (("reference", "avx512vnni", "gops", "1x768x768"), [1, 2], "reference.avx512vnni.gops.1x768x768: must be an object"),
            (("reference", "avx512vnni", "gops", "2x768x768"), {"qgemm": 1.0, "onednn": 1.0}, "gops.2x768x768: unknown field"),
            (("cpu", "colour"), "red", "cpu.colour: unknown field"),
            (("figures",), {}, "figures: unknown field"),
            (("quick_set", "gemm/x"), None, "quick_set.gemm/x: must be a number"),
        ]
        for path, value, words in cases:
            files = Tree.fixtures()
            broken = files["amd-26-2.json"]
            get_parent(broken, path)[path[-1]] = value
            with self.subTest(field=".".join(path)):
                self.assert_refused(files, "amd-26-2.json", words)

    def test_file_level_errors(self):
        files = Tree.fixtures()
        files["amd-26-3.json"] = files.pop("amd-26-2.json")
        self.assert_refused(files, "amd-26-3.json", "must be named amd-26-2.json")
        files = Tree.fixtures()
        files["amd-26-2.json"] = '{"schema": 1,'
        self.assert_refused(files, "amd-26-2.json", "not readable as JSON")
        files["amd-26-2.json"] = "[]"
        self.assert_refused(files, "amd-26-2.json", "must be a JSON object")
        self.assert_refused({}, "no result files")

    def test_command_line_exit_status(self):
        tree = Tree()
        try:
            data = json.loads(read(os.path.join(tree.results, "intel-6-999.json")))
            del data["cpu"]["logical_cpus"]
            tree.write("intel-6-999.json", data)
            p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bench_cpus.py"), "render",
                                tree.results, "--page", tree.page], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("intel-6-999.json: cpu.logical_cpus: missing", p.stderr)
            self.assertFalse(os.path.exists(tree.page))
        finally:
            tree.close()


class CommittedResults(unittest.TestCase):
    RESULTS = os.path.join(ROOT, "benchmarks", "results")

    def test_files_are_valid_and_the_pages_up_to_date(self):
        results = bc.load_results(self.RESULTS)
        self.assertGreaterEqual(len(results), 1)
        for path, data in results:
            self.assertEqual(read(path), bc.dumps(data), f"{path}: not in the canonical layout (sorted keys)")
        stale = bc.render(self.RESULTS, os.path.join(ROOT, "docs", "cpus.md"), os.path.join(ROOT, "README.md"),
                          os.path.join(ROOT, "docs", "cpus.png"), write=False)
        self.assertEqual(stale, [], "regenerate with scripts/bench --cpus")

    def test_converted_figures_are_in_their_sources(self):
        for path, data in bc.load_results(self.RESULTS):
            if data["source"]["kind"] != "converted":
                continue
            sources = re.findall(r"(?:docs|benchmarks|tests)/[\w./-]+\.(?:md|txt|json)", data["source"]["from"])
            self.assertTrue(sources, f"{path}: source.from names no committed file")
            text = "".join(read(os.path.join(ROOT, s)) for s in sources)
            values = [v for v in data["peak_gops"].values()] + [data["read_bw_gbps"]]
            for r in data["reference"].values():
                for pair in r["gops"].values():
                    values += [pair["qgemm"], pair["onednn"]]
            for v in values:
                if v is None:
                    continue
                token = repr(v)
                with self.subTest(file=os.path.basename(path), value=token):
                    self.assertRegex(text, r"(?<![\d.])" + re.escape(token) + r"(?![\d])",
                                     f"{path}: {token} is not in {', '.join(sources)}")


def regenerate():
    tree = Tree()
    try:
        tree.render()
        shutil.copy(tree.page, EXPECTED_PAGE)
        shutil.copy(tree.readme, EXPECTED_README)
        print(f"written: {EXPECTED_PAGE}, {EXPECTED_README}")
    finally:
        tree.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["--regenerate"]:
        regenerate()
    else:
        unittest.main(verbosity=1)
