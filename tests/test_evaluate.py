"""Evaluation: query sets, tiers, hard cases, image->image, and an end-to-end run on the NIH sample."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import NIH_SAMPLE, BundleFactory

from medmir.bundle.format import normalize_query
from medmir.bundle.verify import verify_bundle
from medmir.bundle.write import fallback_queries
from medmir.cli.main import main
from medmir.core.errors import MedmirError
from medmir.data.records import nih_label_names
from medmir.evaluate.hardcases import hard_cases
from medmir.evaluate.image2image import image_to_image
from medmir.evaluate.run import evaluate
from medmir.evaluate.tiers import (
    Query,
    build_tiers,
    eval_queries,
    queries_for,
    read_queries,
    related_labels,
    semantic_groups,
)
from medmir.index.options import IndexOptions
from medmir.index.run import build_index

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
FIXTURE_SCRIPT = ROOT / "scripts" / "make_metrics_fixture.py"


def test_query_set_shape_and_disjoint_from_fallback() -> None:
    qs = eval_queries()
    assert len(qs) == 45
    assert sorted({q.label for q in qs}) == sorted(nih_label_names())
    assert all(sum(q.label == lab for q in qs) == 3 for lab in nih_label_names())
    assert len({normalize_query(q.text) for q in qs}) == 45
    assert not {normalize_query(q.text) for q in qs} & {normalize_query(f) for f in fallback_queries()}


def test_semantic_groups_are_data() -> None:
    g = semantic_groups()
    assert g["fluid"] == ["Effusion", "Edema"] and "Pneumonia" in g["infectious"]
    assert related_labels("Consolidation", g) == {"Consolidation", "Infiltration", "Pneumonia"}
    assert related_labels("Hernia", g) == {"Hernia"}


def test_tier_relevance_rules() -> None:
    groups = {"fluid": ["Effusion", "Edema"]}
    images = [["Effusion"], ["Edema", "Mass"], ["Mass"], ["No Finding"]]
    qs = [Query("effusion", "Effusion"), Query("hernia", "Hernia"), Query("mass", "Mass")]
    t = build_tiers(qs, images, groups)
    assert t.relevance["strict"].tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0]]
    assert t.relevance["semantic"].tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0]]
    assert t.labels_without_images == ["Hernia"]
    assert t.kept["adjusted"].tolist() == [True, False, True] and t.kept["strict"].all()
    with pytest.raises(MedmirError, match="empty"):
        build_tiers(qs, [], groups)
    with pytest.raises(MedmirError, match="carry no labels"):
        build_tiers(qs, [[], []], groups)
    with pytest.raises(MedmirError, match="none of the query labels"):
        build_tiers(qs, [["Cat"], ["Dog"]], groups)


def test_hard_cases_multi_label_rule() -> None:
    groups = {"fluid": ["Effusion", "Edema"]}
    images = [["Edema"], ["Mass", "Nodule"], ["Effusion", "Mass"], ["Mass"]]
    qs = [
        Query("effusion", "Effusion"),
        Query("effusion 2", "Effusion"),
        Query("mass", "Mass"),
        Query("edema", "Edema"),
    ]
    order = np.array([[0, 2, 1, 3], [1, 0, 2, 3], [2, 0, 1, 3], [1, 3, 0, 2]])
    h = hard_cases(qs, order, images, ["a", "b", "c", "d"], groups)
    # query 0: top-1 Edema -> semantic match; query 1: top-1 Mass|Nodule -> failure; query 2: top-1 carries Mass -> hit
    verdicts = [(c["query"], c["verdict"]) for c in h["cases"]]
    assert verdicts == [("effusion", "semantic match"), ("effusion 2", "true failure"), ("edema", "true failure")]
    assert h["semantic_matches"] == 1 and h["true_failures"] == 2
    pairs = {(p["query_label"], p["retrieved_label"]): p["count"] for p in h["confusion_pairs"]}
    assert pairs == {("Effusion", "Edema"): 1, ("Effusion", "Mass"): 1, ("Effusion", "Nodule"): 1, ("Edema", "Mass"): 1,
                     ("Edema", "Nodule"): 1}  # fmt: skip
    assert h["recurring_confusion_pairs"] == []


def test_image_to_image_excludes_self_and_same_patient() -> None:
    emb = np.eye(4, dtype=np.float32)
    emb[1] = emb[0]  # image 1 is a copy of image 0 but from the same patient: must not count
    emb[2] = (emb[0] + emb[2]) / np.linalg.norm(emb[0] + emb[2])
    labels = [["A"], ["A"], ["A"], ["B"]]
    r = image_to_image(emb, labels, ["p1", "p1", "p2", "p3"])
    # query 0: candidates 2 (A, score .71) and 3 (B, 0) -> P@1 = 1
    assert r["per_query"]["precision@1"][0] == 1.0
    # query 3 (B): no candidate shares B -> 0, and its chance is 0
    assert r["per_query"]["map@10"][3] == 0.0 and r["chance_per_query"]["map@10"][3] == 0.0
    assert r["queries"] == 4 and not r["sampled"]


@pytest.fixture(scope="module")
def evaluated(
    nih_bundle: BundleFactory, tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict]:
    """The whole 400-image NIH sample, indexed with the tiny random model (a copy of the shared bundle), then
    evaluated."""
    bundle = tmp_path_factory.mktemp("eval") / "b"
    shutil.copytree(nih_bundle(None, 2), bundle)
    return bundle, evaluate(bundle, tiny_pack, n_boot=300, seed=1)


def test_metrics_file_is_complete_and_auditable(evaluated: tuple[Path, dict]) -> None:
    bundle, m = evaluated
    assert json.loads((bundle / "metrics.json").read_text()) == json.loads(json.dumps(m))
    assert m["evaluated"]["text_model"] == "int8" and "browser" in m["evaluated"]["what"]
    assert m["evaluated"]["random_weights"] is True
    assert set(m["tiers"]) == {"strict", "adjusted", "semantic"}
    for tier in m["tiers"].values():
        for k in (1, 5, 10, 20):
            for name in (f"hit@{k}", f"precision@{k}", f"recall@{k}", f"map@{k}"):
                f = tier["metrics"][name]
                assert f["ci95"][0] <= f["value"] <= f["ci95"][1] and 0 <= f["chance"] <= 1
    # the aggregates can be recomputed from the per-query records
    strict = [r for r in m["per_query"] if r["tier"] == "strict"]
    assert len(strict) == 45
    for k in (1, 5, 10, 20):
        assert np.isclose(
            np.mean([r["hits"][f"hit@{k}"] for r in strict]), m["tiers"]["strict"]["metrics"][f"hit@{k}"]["value"]
        )
    assert np.isclose(np.mean([r["ap"] for r in strict]), m["tiers"]["strict"]["metrics"]["ap"]["value"], atol=1e-5)
    for k in (1, 5, 10, 20):
        mean = np.mean([r["ndcg"][f"ndcg@{k}"] for r in strict])
        assert np.isclose(mean, m["tiers"]["strict"]["metrics"][f"ndcg@{k}"]["value"], atol=1e-5)
    mean = np.mean([r["r_precision"] for r in strict])
    assert np.isclose(mean, m["tiers"]["strict"]["metrics"]["r_precision"]["value"], atol=1e-5)
    for tier in m["tiers"].values():  # the new figures sit beside the old ones, in the same shape
        for name in ("ndcg@10", "r_precision"):
            assert set(tier["metrics"][name]) == {"value", "ci95", "chance", "chance_interval95"}
            assert name in m["metric_docs"]
    assert len(m["per_label"]) == 15 and {r["label"] for r in m["per_label"]} == set(nih_label_names())
    assert m["image_to_image"]["queries"] == 400
    i2i = m["image_to_image"]["metrics"]
    assert list(i2i) == ["precision@1", "precision@5", "precision@10", "map@10", "ndcg@10", "r_precision"]
    _check_cbir(m["image_to_image"]["cbir"])
    aucs = [r for r in m["zero_shot_auc"]["labels"] if r["auc"] is not None]
    assert len(aucs) == 15
    verify_bundle(bundle)  # metrics.json and hard_cases.json are now vouched for by index_info.json


def _check_cbir(c: dict) -> None:
    """The Denner et al. block of metrics.json on the 400-image sample: every label queried, macro = mean of labels."""
    assert c["protocol"] == "Denner et al." and c["ks"] == [1, 3, 5, 10]
    assert c["labels"] == 15 and c["labels_without_queries"] == []
    assert {r["label"] for r in c["per_label"]} == set(nih_label_names())
    # every image queries (400 < 2,000): a label's queries are all its images
    assert all(r["queries"] == r["images"] for r in c["per_label"])
    assert c["query_label_pairs"] == sum(r["queries"] for r in c["per_label"])
    for name, f in c["macro"].items():
        rows = [r["metrics"][name] for r in c["per_label"]]
        assert np.isclose(f["value"], np.mean([r["value"] for r in rows]), atol=1e-5)
        assert np.isclose(f["chance"], np.mean([r["chance"] for r in rows]), atol=1e-5)
        assert f["ci95"][0] <= f["value"] <= f["ci95"][1] and 0 <= f["chance"] <= 1
    assert c["published"]["values"]["precision@10"] == 0.583 and c["published"]["comparable"] is False
    assert "not directly comparable" in c["published"]["caveat"]


def test_random_model_sits_at_chance(evaluated: tuple[Path, dict]) -> None:
    """With random weights every figure must be explainable by chance: a check that the baselines are right."""
    _, m = evaluated
    outside = []
    for tier_name, tier in m["tiers"].items():
        for name, f in tier["metrics"].items():
            lo, hi = f["chance_interval95"]
            # allow the bootstrap interval to overlap the chance interval (the figures are correlated across queries)
            if f["ci95"][1] < lo or f["ci95"][0] > hi:
                outside.append((tier_name, name, f))
    assert not outside, outside[:5]
    for f in m["image_to_image"]["metrics"].values():
        assert f["ci95"][0] - 0.05 <= f["chance"] <= f["ci95"][1] + 0.05
    for f in m["image_to_image"]["cbir"]["macro"].values():
        assert f["ci95"][0] - 0.05 <= f["chance"] <= f["ci95"][1] + 0.05
    assert 0.3 <= m["zero_shot_auc"]["mean_auc"] <= 0.7


def test_report_and_plots(evaluated: tuple[Path, dict]) -> None:
    bundle, _ = evaluated
    report = (bundle / "report" / "report.md").read_text()
    assert "Random weights: results are meaningless" in report and "chance" in report
    assert "### CBIR protocol (Denner et al.)" in report and "| precision@10 |" in report and "0.583" in report
    strict = report.split("## Text -> image, strict tier")[1].split("##")[0]
    assert "| precision@10 |" in strict and "| precision@1 |" not in strict and "| ndcg@10 |" in strict
    for png in ("hit_at_k.png", "per_label.png", "confusion.png"):
        assert (bundle / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bootstrap_is_deterministic(evaluated: tuple[Path, dict], tiny_pack: Path, tmp_path: Path) -> None:
    bundle, m = evaluated
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    again = evaluate(copy, tiny_pack, n_boot=300, seed=1, report=False)
    assert again["tiers"] == m["tiers"] and again["image_to_image"] == m["image_to_image"]


def test_tampered_metrics_are_caught(evaluated: tuple[Path, dict], tmp_path: Path) -> None:
    bundle, _ = evaluated
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    p = copy / "metrics.json"
    p.write_text(p.read_text().replace('"value": 0.', '"value": 1.', 1))
    with pytest.raises(MedmirError, match=r"metrics\.json"):
        verify_bundle(copy)


def test_evaluate_refuses_another_pack_and_unlabelled_bundles(evaluated, full_pack, tiny_pack, tmp_path) -> None:
    bundle, _ = evaluated
    with pytest.raises(MedmirError, match=r"not the pack .* was indexed with"):
        evaluate(bundle, full_pack, report=False)
    src = tmp_path / "imgs"
    src.mkdir()
    for name in sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:3]:
        shutil.copy(NIH_SAMPLE / "images" / name, src / name)
    (tmp_path / "l.csv").write_text("filename,labels\n" + "".join(f"{p.name},\n" for p in src.iterdir()))
    build_index(IndexOptions(src, tmp_path / "l.csv", tiny_pack, tmp_path / "b", workers=1))
    with pytest.raises(MedmirError, match="carry no labels"):
        evaluate(tmp_path / "b", tiny_pack, report=False)


# ------------------------------------------------------------------------------------ a user's own vocabulary


def test_default_queries_follow_the_bundles_vocabulary() -> None:
    nih = sorted({q.label for q in eval_queries()})
    queries, templated = queries_for(nih)
    assert queries == eval_queries() and templated == []
    # one curated label present: curated queries stay, the other label is queried from the templates
    queries, templated = queries_for(["Effusion", "Rib_Fracture"])
    assert templated == ["Rib_Fracture"]
    assert [q.text for q in queries if q.label == "Rib_Fracture"] == ["rib fracture", "an image showing rib fracture"]
    assert queries[: len(eval_queries())] == eval_queries()
    # no curated label: templates only, no NIH query that could only miss
    queries, templated = queries_for(["tumor", "Normal"])
    assert templated == ["Normal", "tumor"] and {q.label for q in queries} == {"Normal", "tumor"}


def test_query_file_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_text("text,label\nrib fracture,Fracture\n,Fracture\n")
    with pytest.raises(MedmirError, match=r"q\.csv line 3: needs a non-empty text and label"):
        read_queries(f)
    f.write_text("query,label\nrib fracture,Fracture\n")
    with pytest.raises(MedmirError, match=r"q\.csv: line 1 must be a header with `text` and `label`"):
        read_queries(f)
    f.write_text("text,label\n")
    with pytest.raises(MedmirError, match=r"q\.csv: no queries"):
        read_queries(f)
    j = tmp_path / "q.json"
    j.write_text('{"queries": [{"text": "a", "label": "A"}, {"text": "b"}]}')
    with pytest.raises(MedmirError, match=r"q\.json query 2: needs a non-empty text and label"):
        read_queries(j)


def test_evaluate_a_users_own_labels(tiny_pack: Path, tmp_path: Path) -> None:
    """Labels NIH does not have get template queries; `--queries FILE` replaces the set; the CLI takes both."""
    src = tmp_path / "imgs"
    src.mkdir()
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:12]
    for name in names:
        shutil.copy(NIH_SAMPLE / "images" / name, src / name)
    labels = ["Rib_Fracture" if i % 3 == 0 else "Normal" for i in range(len(names))]
    rows = "".join(f"{n},{lab}\n" for n, lab in zip(names, labels, strict=True))
    (tmp_path / "l.csv").write_text("filename,labels\n" + rows)
    build_index(IndexOptions(src, tmp_path / "l.csv", tiny_pack, tmp_path / "b", workers=1))
    m = evaluate(tmp_path / "b", tiny_pack, n_boot=50, report=False)
    assert m["queries"]["source"] == "built-in"
    assert m["queries"]["labels_from_templates"] == ["Normal", "Rib_Fracture"]
    assert {r["query"] for r in m["per_query"]} == {"normal", "an image showing normal", "rib fracture",
                                                    "an image showing rib fracture"}  # fmt: skip
    assert m["tiers"]["strict"]["queries"] == 4
    verify_bundle(tmp_path / "b")

    (tmp_path / "q.csv").write_text("text,label\nfractured rib,Rib_Fracture\n")
    code = main(["evaluate", "--bundle", str(tmp_path / "b"), "--model", str(tiny_pack), "--bootstrap", "20",
                 "--queries", str(tmp_path / "q.csv")])  # fmt: skip
    assert code == 0
    m = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert m["queries"]["source"] == "q.csv" and m["queries"]["labels_from_templates"] == []
    assert [r["query"] for r in m["per_query"] if r["tier"] == "strict"] == ["fractured rib"]


# ------------------------------------------------------------------------------ the web pages render this output


def _load_fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_metrics_fixture", FIXTURE_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_web_fixtures_have_the_format_python_writes(evaluated: tuple[Path, dict]) -> None:
    bundle, _ = evaluated
    script = _load_fixture_script()
    for name in script.FILES:
        fresh = script.structure(json.loads((bundle / name).read_text()))
        committed = script.structure(json.loads((WEB / "test" / "fixtures" / name).read_text()))
        assert committed == fresh, (
            f"web/test/fixtures/{name} no longer has the format `medmir evaluate` writes "
            f"(only in the fixture: {sorted(committed - fresh)[:5]}, "
            f"only in Python's: {sorted(fresh - committed)[:5]}); "
            f"run `.venv/bin/python {FIXTURE_SCRIPT.relative_to(ROOT)} BUNDLE` on an evaluated bundle"
        )


def test_web_pages_render_a_fresh_evaluation(evaluated: tuple[Path, dict], tmp_path: Path) -> None:
    """The metricsView suite's whole-bundle checks run here, on this evaluation: never skipped under make test."""
    bundle, _ = evaluated
    report = tmp_path / "vitest.json"
    env = {**os.environ, "MEDMIR_METRICS_BUNDLE": str(bundle)}
    cmd = ["npx", "vitest", "run", "test/metricsView.test.ts", "--reporter=json", f"--outputFile={report}"]
    done = subprocess.run(cmd, cwd=WEB, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(report.read_text())["testResults"][0]["assertionResults"]
    whole = [r for r in results if r["ancestorTitles"][0].startswith("pages on a whole evaluated bundle")]
    assert [r["status"] for r in whole] == ["passed", "passed"], whole
