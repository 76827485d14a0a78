"""offload runs inside mitmproxy's standalone binaries: only the standard-library modules mitmproxy itself uses.

The binaries are PyInstaller bundles of mitmproxy: a standard-library module that mitmproxy never imports is not in
them (a user's mitmdump failed with "No module named 'xml.etree'"). The test imports mitmproxy's tools, then forbids
every other standard-library module (but tomllib, which the bundles carry, and the CJK codecs of the encodings
package, which PyInstaller always collects), and loads the addon, writes every report and runs the command line.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import importlib.abc, importlib.util, os, sys, tempfile
import mitmproxy.tools.main, mitmproxy.tools.dump, mitmproxy.tools.web.master, mitmproxy.addons  # the bundle's
allowed = {m.split(".")[0] for m in sys.modules} | {"tomllib", "_multibytecodec"}
allowed |= {m for m in sys.stdlib_module_names if m.startswith("_codecs_")}
BLOCKED = ["xml.etree", "xml.dom", "xml.sax"]  # what users' bundles lacked, and its siblings

class Bundle(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if any(name == b or name.startswith(b + ".") for b in BLOCKED) or (
                top in sys.stdlib_module_names and top not in allowed):
            raise ImportError(f"No module named {name!r} (not in mitmproxy's standalone bundle)")
        return None

sys.meta_path.insert(0, Bundle())
sys.path.insert(0, sys.argv[1])


def load(path):  # as mitmproxy's script addon loads a script
    spec = importlib.util.spec_from_file_location("__mitmproxy_script__", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


load(os.path.join(sys.argv[1], "offload", "script", "offload_addon.py"))
load(os.path.join(sys.argv[1], "azure_arr.py"))
from offload import cli, report
from offload.findings import Finding, RULES
findings = [Finding(rule, "GET", "/x", "s", "m <&>", frontend="heroku", advice="fix") for rule in RULES]
with tempfile.TemporaryDirectory() as d:
    report.write_json(os.path.join(d, "r.json"), findings, ["heroku"], 3)
    report.write_junit(os.path.join(d, "r.xml"), findings, ["heroku"], "error")
    try:
        from offload import html_report
    except ModuleNotFoundError as e:
        if e.name != "offload.html_report":
            raise
    else:
        html_report.write_html(os.path.join(d, "r.html"), findings, ["heroku"], 3)
assert cli.main(["profiles"]) == 0 and cli.main(["show", "azure-appservice"]) == 0
print("standalone ok")
"""


def test_the_addon_and_every_report_use_only_what_the_standalone_binaries_carry():
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "addons")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "standalone ok" in done.stdout, done.stderr[-3000:]
