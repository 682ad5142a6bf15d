"""Every code example in README.md, docs/ and the API reference, run as written.

Each ```python block of README.md and docs/**/*.md runs in a fresh namespace
with `__name__ == "__main__"`, against a local Census emulator and the
session's temporary Prefect API. Before each run, the blocks that the examples
load by name are saved, pointing at emulator syncs, and the environment
variables that they read are set. A block opts out only with an HTML comment
`<!-- not run: reason -->` on the line before its fence.

`serve` would run forever, so `Flow.serve` builds the deployment with
`Flow.to_deployment` and the same arguments instead, and `prefect.serve` only
collects its deployments. The test then checks that every deployment loads its
flow and resolves its parameters, block references included.

```yaml blocks are `prefect.yaml` files: each deployment's entrypoint must load
a flow, and its parameters must validate against that flow and resolve to the
saved blocks. Docstring examples of the modules that docs/api/ renders run the
same way; `>>>` examples in them run with doctest.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import prefect
import prefect.artifacts
import prefect.flows
import pytest
import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

from prefect_census import CensusCredentials, CensusSync
from prefect_census.emulator import RunPlan

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Fences may be indented, as they are under "Examples:" in a docstring.
FENCE_OPEN = re.compile(r"^\s*```(?P<language>[\w-]*)\s*$")
FENCE_CLOSE = re.compile(r"^\s*```\s*$")
OPT_OUT = re.compile(r"^<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
API_DIRECTIVE = re.compile(r"^:::\s*(?P<module>[\w.]+)\s*$")

PREFECT_MAJOR = int(prefect.__version__.split(".")[0])
# An example that uses a feature older Prefect releases lack is skipped there.
# Each row: text in the example, whether this Prefect has the feature, and the
# reason. The pages name the Prefect versions these examples need.
FEATURES = [
    (
        '"$ref"',
        PREFECT_MAJOR >= 3,
        "Prefect 2 does not resolve block references in deployment parameters",
    ),
    ("serve(", hasattr(Flow, "serve"), f"Prefect {prefect.__version__} has no serve"),
    (
        "Artifact.get(",
        hasattr(prefect.artifacts, "Artifact"),
        f"Prefect {prefect.__version__} has no Artifact class",
    ),
]

# The blocks the examples load by name. Keep this set small, because every
# page uses the same names.
CREDENTIALS_BLOCKS = ("accounts-to-salesforce", "leads-to-hubspot")
JOB_BLOCKS = ("accounts-to-salesforce",)


@dataclass(frozen=True)
class Example:
    """One fenced code block, or one docstring of the API reference."""

    where: str
    language: str
    source: str
    opt_out: Optional[str] = None
    # The module whose names a `>>>` docstring example runs with; None for a
    # fenced block, which runs as a script of its own.
    doctest_module: Optional[str] = None


def fenced_blocks(text: str, where: str, first_line: int = 1) -> list[Example]:
    """Return the fenced code blocks of Markdown `text`, each with its line."""
    lines = text.splitlines()
    examples = []
    index = 0
    while index < len(lines):
        opening = FENCE_OPEN.match(lines[index])
        if opening is None:
            index += 1
            continue

        start = index
        index += 1
        body = []
        while index < len(lines) and not FENCE_CLOSE.match(lines[index]):
            body.append(lines[index])
            index += 1
        index += 1

        opt_out = OPT_OUT.match(lines[start - 1]) if start > 0 else None
        examples.append(
            Example(
                where=f"{where}:{first_line + start}",
                language=opening["language"],
                source=textwrap.dedent("\n".join(body) + "\n"),
                opt_out=opt_out["reason"] if opt_out else None,
            )
        )

    return examples


def page_examples() -> list[Example]:
    """Return the code blocks of README.md and every page under docs/."""
    examples = []
    for path in DOC_FILES:
        where = path.relative_to(ROOT).as_posix()
        examples += fenced_blocks(path.read_text(), where)

    return examples


def api_modules() -> list[str]:
    """Return the modules that the API reference pages render."""
    modules = []
    for path in sorted((ROOT / "docs" / "api").glob("*.md")):
        for line in path.read_text().splitlines():
            directive = API_DIRECTIVE.match(line)
            if directive:
                modules.append(directive["module"])

    return modules


def _has_own_docstring(value: Any) -> bool:
    """Return whether mkdocstrings would render a docstring written for `value`."""
    if isinstance(value, (property, classmethod, staticmethod)):
        return True

    return inspect.isclass(value) or inspect.isfunction(value) or callable(value)


def _documented_objects(module: Any) -> list[tuple[str, Any]]:
    """Return the module and its public classes, functions and their members.

    Tasks and flows count as functions. Plain values, such as a dataclass
    field's default, are left out, because their docstring is their type's.
    """
    objects = [(module.__name__, module)]
    for name, value in vars(module).items():
        if name.startswith("_") or not _has_own_docstring(value):
            continue
        # Only what the module or its private submodules define, not imports.
        defined_in = getattr(value, "__module__", None) or ""
        if defined_in != module.__name__ and not defined_in.startswith(
            module.__name__ + "."
        ):
            continue
        objects.append((f"{module.__name__}.{name}", value))
        if not inspect.isclass(value):
            continue
        for member_name, member in vars(value).items():
            if not member_name.startswith("_") and _has_own_docstring(member):
                objects.append((f"{module.__name__}.{name}.{member_name}", member))

    return objects


def docstring_examples() -> list[Example]:
    """Return the code examples in the docstrings that docs/api/ renders."""
    examples = []
    seen = set()
    for module_name in api_modules():
        module = importlib.import_module(module_name)
        for name, value in _documented_objects(module):
            docstring = getattr(value, "__doc__", None)
            if not isinstance(docstring, str):
                continue
            docstring = inspect.cleandoc(docstring)
            if docstring in seen:
                continue
            seen.add(docstring)
            examples += [
                Example(f"{name} (docstring)", block.language, block.source)
                for block in fenced_blocks(docstring, name)
            ]
            if ">>>" in docstring:
                examples.append(
                    Example(
                        f"{name} (doctest)",
                        "pycon",
                        docstring,
                        doctest_module=module_name,
                    )
                )

    return examples


ALL_EXAMPLES = page_examples() + docstring_examples()
PYTHON_EXAMPLES = [
    example
    for example in ALL_EXAMPLES
    if example.language == "python" or example.doctest_module
]
YAML_EXAMPLES = [example for example in ALL_EXAMPLES if example.language == "yaml"]


@pytest.fixture
def docs_world(census_emulator, fast_polls, monkeypatch, tmp_path):
    """Save the blocks and variables that the examples use, and catch `serve`."""
    accounts = census_emulator.add_sync(
        RunPlan(
            queued_seconds=0.1,
            working_seconds=0.5,
            source_record_count=120,
            records_processed=120,
            records_updated=117,
            records_failed=3,
        ),
        label="Accounts to Salesforce",
    )
    leads = census_emulator.add_sync(
        RunPlan(working_seconds=0.3, records_updated=40), label="Leads to HubSpot"
    )
    sync_ids = dict(zip(CREDENTIALS_BLOCKS, (accounts, leads)))
    for name, sync_id in sync_ids.items():
        url = census_emulator.trigger_url(sync_id)
        CensusCredentials(api_trigger=url).save(name, overwrite=True)
    for name in JOB_BLOCKS:
        credentials = CensusCredentials.load(name)
        CensusSync(credentials=credentials).save(name, overwrite=True)

    monkeypatch.setenv("CENSUS_API_TRIGGER", census_emulator.trigger_url(accounts))
    monkeypatch.setenv("CENSUS_API_KEY", f"secret-token:{census_emulator.token}")
    monkeypatch.chdir(tmp_path)

    deployments: list[Any] = []
    if hasattr(Flow, "serve"):  # Prefect 2.13 and later
        _build_instead_of_serving(monkeypatch, deployments)

    return {
        "emulator": census_emulator,
        "sync_ids": sync_ids,
        "deployments": deployments,
        "folder": tmp_path,
    }


def _build_instead_of_serving(monkeypatch, deployments: list[Any]) -> None:
    """Make `Flow.serve` and `prefect.serve` collect deployments and return."""
    serve_signature = inspect.signature(Flow.serve)
    accepted = inspect.signature(Flow.to_deployment).parameters

    def build(self, *args, **kwargs):
        arguments = serve_signature.bind(self, *args, **kwargs).arguments
        arguments.pop("self")
        if "global_limit" in arguments:
            arguments["concurrency_limit"] = arguments.pop("global_limit")
        options = {key: value for key, value in arguments.items() if key in accepted}
        options.setdefault("name", self.name)
        deployments.append(self.to_deployment(**options))

    def collect(*served, **options):
        deployments.extend(served)

    monkeypatch.setattr(Flow, "serve", build)
    # `prefect.serve` is defined in `prefect.flows` on Prefect 3 and 2.20, and
    # in `prefect.runner` on earlier Prefect 2 releases.
    for module in (prefect, prefect.flows):
        if hasattr(module, "serve"):
            monkeypatch.setattr(module, "serve", collect)


def _run_fenced(example: Example, world: dict[str, Any]) -> dict[str, Any]:
    """Run a Python block as `python example.py` would and return its namespace.

    The block becomes the `__main__` module while it runs, because Prefect
    finds a served flow's source file through `sys.modules["__main__"]`.
    """
    script = world["folder"] / "example.py"
    script.write_text(example.source)
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "__main__", module)
        exec(compile(example.source, str(script), "exec"), module.__dict__)

    return module.__dict__


def _run_tests_defined(namespace: dict[str, Any], world: dict[str, Any]) -> None:
    """Call the pytest-style tests an example defines, with the emulator fixture."""
    fixtures = {"census_emulator": world["emulator"]}
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value):
            parameters = inspect.signature(value).parameters
            value(**{key: fixtures[key] for key in parameters})


def _check_deployment(deployment: Any) -> None:
    """Check that a built deployment's flow loads and its parameters resolve."""
    assert deployment.name
    assert deployment.entrypoint

    flow = load_flow_from_entrypoint(deployment.entrypoint)
    resolved = flow.validate_parameters(deployment.parameters)
    for name, value in deployment.parameters.items():
        if isinstance(value, dict) and "$ref" in value:
            assert isinstance(resolved[name], CensusCredentials)


def _run_doctest(example: Example) -> None:
    """Run the `>>>` examples of a docstring with its module's names."""
    module = importlib.import_module(example.doctest_module)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(
        example.source, dict(vars(module)), example.where, None, 0
    )
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)

    assert runner.failures == 0, f"{runner.failures} doctest failures in {test.name}"


@pytest.mark.parametrize(
    "example", PYTHON_EXAMPLES, ids=[example.where for example in PYTHON_EXAMPLES]
)
def test_python_example(example, docs_world):
    """The example runs to the end against the emulator."""
    if example.opt_out:
        pytest.skip(f"not run: {example.opt_out}")
    for text, available, reason in FEATURES:
        if text in example.source and not available:
            pytest.skip(reason)

    if example.doctest_module:
        _run_doctest(example)
        return

    namespace = _run_fenced(example, docs_world)
    _run_tests_defined(namespace, docs_world)

    for deployment in docs_world["deployments"]:
        _check_deployment(deployment)
    if "serve(" in example.source:
        assert docs_world["deployments"], "the example served no deployment"


@pytest.mark.parametrize(
    "example", YAML_EXAMPLES, ids=[example.where for example in YAML_EXAMPLES]
)
def test_prefect_yaml_example(example, docs_world):
    """Each deployment loads its flow, and its parameters resolve to blocks."""
    if PREFECT_MAJOR < 3:
        pytest.skip(FEATURES[0][2])
    config = yaml.safe_load(example.source)

    assert isinstance(config.get("name"), str)
    assert config["deployments"]
    try:
        from prefect.cli.deploy._models import PrefectYamlModel
    except ImportError:  # a private model that Prefect 3.0 does not have
        PrefectYamlModel = None
    if PrefectYamlModel is not None:
        PrefectYamlModel.model_validate(config)

    for deployment in config["deployments"]:
        assert isinstance(deployment["name"], str)
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        parameters = deployment["parameters"]
        resolved = flow.validate_parameters(parameters)

        credentials = resolved["credentials"]
        assert isinstance(credentials, CensusCredentials)
        block_name = parameters["credentials"]["$ref"]["block_document_slug"]
        assert block_name.split("/", 1)[1] in CREDENTIALS_BLOCKS
        assert credentials.sync_id in docs_world["sync_ids"].values()

        run = flow(**resolved)
        assert run["status"] == "completed"


def test_examples_found():
    """The collector finds the examples of every page that has some."""
    wheres = {example.where.split(":")[0] for example in PYTHON_EXAMPLES}

    assert "README.md" in wheres
    assert "docs/tasks-and-flows.md" in wheres
    assert "docs/deployments.md" in wheres
    assert YAML_EXAMPLES
