"""Image models compared, on real parts: Pillow-made images, OpenAI's chat (vision) and image endpoints
through the official SDK against the scripted server, the engine's runner, the ledger, and the CLI."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from typer.testing import CliRunner

from playground.cli.main import app
from playground.core.specs import ModelSpec, SpecError, load_specs, parse_models_text
from playground.images import (
    ImageFileError,
    ImagePayer,
    ImagesError,
    describe_compare,
    paint_compare,
    read_image,
)
from playground.storage.runs import Store
from providers.base import ChatRequest, ImageInput, Message
from tests.scripted_server import ScriptedServer

KEY_ENV = "SCRIPTED_IMAGES_KEY"


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    """A real PNG of this size, made by Pillow."""
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def hosted(server: ScriptedServer, key: str, task: str, scenario: str, **fields: object) -> ModelSpec:
    """A hosted OpenAI-compatible model on the scripted server."""
    return ModelSpec(
        key=key,
        provider="openai",
        model=key,
        task=task,
        base_url=server.url(scenario),
        api_key_env=KEY_ENV,
        **fields,
    )


def ledger(store: Store, ref_id: str) -> list:
    store.writer.flush(5)
    return [r for r in store.usage_since(datetime.now(UTC) - timedelta(hours=1)) if r.ref_id == ref_id]


def test_a_good_image_is_read_and_an_empty_corrupt_or_oversize_one_gives_one_error_naming_it():
    image = read_image(png(64, 48), "cat.png")
    assert (image.mime, image.width, image.height) == ("image/png", 64, 48)
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 20)).save(jpeg, format="JPEG")
    assert read_image(jpeg.getvalue(), "x.jpg").mime == "image/jpeg"

    with pytest.raises(ImageFileError, match=r"^empty\.png is empty \(0 bytes\)$"):
        read_image(b"", "empty.png")
    with pytest.raises(ImageFileError, match=r"^junk\.png could not be read as an image$"):
        read_image(b"this is no picture" * 10, "junk.png")
    truncated = png(300, 200)[:-200]  # a real header, the pixels cut short
    with pytest.raises(ImageFileError, match=r"^truncated\.png is corrupt \("):
        read_image(truncated, "truncated.png")
    with pytest.raises(ImageFileError, match=r"^huge\.png is 21\.0 MB, over the 20 MB limit$"):
        read_image(b"\x89PNG" + bytes(21_000_000 - 4), "huge.png")
    with pytest.raises(
        ImageFileError, match=r"^wide\.png is 9000x5000 \(45\.0 megapixels\), over the 40 megapixel"
    ):
        read_image(png(9000, 5000, mode="1"), "wide.png")


def test_a_request_without_images_goes_out_as_before_and_with_one_as_an_image_url_part():
    plain = ChatRequest(messages=(Message("system", "be brief"), Message("user", "hi")))
    assert plain.wire_messages() == plain.openai_messages()
    data = png(2, 3)
    shown = ChatRequest(messages=plain.messages, images=(ImageInput(data, "image/png"),))
    assert shown.wire_messages() == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64," + base64.b64encode(data).decode()},
                },
            ],
        },
    ]
    assert shown.openai_messages() == plain.openai_messages()  # token estimates and stored prompts: text


def test_describe_sends_the_image_through_the_runner_and_one_failing_model_leaves_the_other(
    scripted, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, "sk-scripted-images-0000")
    price = {"price_input_per_mtok": Decimal("0.15"), "price_output_per_mtok": Decimal("0.60")}
    specs = {
        "seer": hosted(scripted, "seer", "chat", "vision~report_in=1200", accepts_images=True, **price),
        "broken": hosted(scripted, "broken", "image-to-text", "status~code=500"),
        "painter": hosted(scripted, "painter", "text-to-image", "images"),
    }
    store = Store()
    payer = ImagePayer(store=store)
    seer, broken = describe_compare(
        read_image(png(64, 48), "cat.png"), "What size is it?", ["seer", "broken"], specs=specs, payer=payer
    )
    assert seer.ok and seer.text.strip() == "image 64x48", seer.error  # the server decoded our image
    assert seer.input_tokens == 1200 and seer.usage_source == "reported" and seer.ttft_s is not None
    assert seer.cost_usd == (Decimal("0.15") * 1200 + Decimal("0.60") * seer.output_tokens) / 1_000_000
    assert seer.max_cost_usd is not None and seer.max_cost_usd > seer.cost_usd
    assert broken.error is not None and broken.error.kind == "server_error" and broken.text == ""
    sent = next(r for r in reversed(scripted.requests) if "vision" in r["path"])
    assert sent["headers"]["authorization"] == "Bearer sk-scripted-images-0000"
    assert sent["body"]["messages"][0]["content"][0] == {"type": "text", "text": "What size is it?"}
    assert seer.run_id is not None and broken.run_id == seer.run_id  # kept as one run in History
    assert sorted((r.kind, r.model) for r in ledger(store, seer.run_id)) == [
        ("image", "broken"),
        ("image", "seer"),
    ]
    with pytest.raises(ImagesError, match="painter is a text-to-image model, not a image-to-text one"):
        describe_compare(read_image(png(4, 4), "a.png"), "hi", ["painter"], specs=specs)
    with pytest.raises(ImagesError, match="gpt-4.1-mini is a chat model"):
        describe_compare(read_image(png(4, 4), "a.png"), "hi", ["gpt-4.1-mini"])


def test_paint_returns_base64_pictures_priced_per_image_and_refuses_a_url_or_a_corrupt_picture(
    scripted, monkeypatch
):
    monkeypatch.setenv(KEY_ENV, "sk-scripted-images-0000")
    specs = {
        "painter": hosted(
            scripted, "painter", "text-to-image", "images~w=80~h=60", price_per_image=Decimal("0.04")
        ),
        "linker": hosted(scripted, "linker", "text-to-image", "images~url=1"),
        "smudger": hosted(scripted, "smudger", "text-to-image", "images~corrupt=1"),
    }
    store = Store()
    payer = ImagePayer(store=store)
    painter, linker, smudger = paint_compare(
        "a red fox", ["painter", "linker", "smudger"], specs=specs, payer=payer
    )
    assert painter.ok and painter.picture is not None
    assert (painter.picture.mime, painter.picture.width, painter.picture.height) == ("image/png", 80, 60)
    assert painter.cost_usd == Decimal("0.04") and painter.cost_source == "override"
    assert linker.error is not None and linker.error.kind == "bad_response"
    assert linker.error.message == "the server sent a URL; the playground never fetches model-given URLs"
    assert not any("images.example.invalid" in r["path"] for r in scripted.requests)
    assert smudger.error is not None and smudger.error.kind == "bad_image"
    assert smudger.error.message == "smudger's picture could not be read as an image"
    asked = next(r for r in reversed(scripted.requests) if "w=80" in r["path"])
    assert asked["path"].endswith("/v1/images/generations")
    assert asked["body"] == {
        "model": "painter",
        "prompt": "a red fox",
        "size": "1024x1024",
        "n": 1,
        "response_format": "b64_json",
    }
    rows = ledger(store, painter.run_id)  # the ledger names the run the comparison is kept as
    assert sorted((r.kind, r.model, r.cost_source) for r in rows) == [
        ("image", "linker", "unknown"),
        ("image", "painter", "override"),
        ("image", "smudger", "unknown"),
    ]
    assert [r.cost_usd for r in rows if r.model == "painter"] == [Decimal("0.04")]
    [other_size] = paint_compare("a red fox", ["painter"], "512x512", specs=specs)
    assert other_size.cost_usd is None and other_size.cost_source == "unknown at 512x512"
    with pytest.raises(ImagesError, match="size must be WIDTHxHEIGHT"):
        paint_compare("a fox", ["painter"], "big", specs=specs)


def test_image_comparisons_are_kept_in_history_with_their_files_and_go_with_the_run(scripted, monkeypatch):
    from playground.images import KeptPainting, KeptQuestion, kept_images

    monkeypatch.setenv(KEY_ENV, "sk-scripted-images-0000")
    specs = {
        "seer": hosted(scripted, "seer", "chat", "vision", accepts_images=True),
        "blind": hosted(scripted, "blind", "image-to-text", "status~code=500"),
        "painter": hosted(
            scripted, "painter", "text-to-image", "images~w=80~h=60", price_per_image=Decimal("0.04")
        ),
        "smudger": hosted(scripted, "smudger", "text-to-image", "images~corrupt=1"),
    }
    store = Store()
    card = read_image(png(64, 48), "cat.png")
    blind, seer = describe_compare(
        card, "What size is it?", ["blind", "seer"], specs=specs, payer=ImagePayer(store=store)
    )
    store.writer.flush(5)
    run = store.get_run(seer.run_id)
    assert run is not None and run.kind == "image-to-text" and run.state == "finished"
    assert (run.prompt, run.models, run.params) == (
        "What size is it?",
        ["blind", "seer"],
        {"max_tokens": ChatRequest.DEFAULT_MAX_TOKENS},
    )
    kept = kept_images(run, store.media_of(run.id))
    assert isinstance(kept, KeptQuestion) and kept.image is not None
    assert (kept.image.name, kept.image.mime, kept.image.data) == ("cat.png", "image/png", card.data)
    # in the order asked, whichever ended first; the failure kept with its reason
    assert [(r.model, r.text.strip(), r.error and r.error.kind) for r in kept.results] == [
        ("blind", "", "server_error"),
        ("seer", "image 64x48", None),
    ]
    assert kept.results[1].ttft_s == seer.ttft_s and kept.results[1].output_tokens == seer.output_tokens

    painter, smudger = paint_compare(
        "a red fox", ["painter", "smudger"], specs=specs, payer=ImagePayer(store=store)
    )
    store.writer.flush(5)
    run = store.get_run(painter.run_id)
    assert run is not None and run.kind == "text-to-image" and run.params == {"size": "1024x1024"}
    kept = kept_images(run, store.media_of(run.id))
    assert isinstance(kept, KeptPainting) and kept.prompt == "a red fox"
    shown, failed = kept.results
    assert shown.picture is not None and painter.picture is not None
    assert shown.picture.data == painter.picture.data and (shown.picture.width, shown.picture.height) == (
        80,
        60,
    )
    assert (shown.seconds, shown.cost_usd, shown.cost_source) == (
        painter.seconds,
        Decimal("0.04"),
        "override",
    )
    assert failed.picture is None and failed.error is not None and failed.error.kind == "bad_image"
    assert store.delete_run(run.id) and store.media_of(run.id) == []  # its files go with it
    # A file over the size kept is left out; the run and its answers are kept.
    import playground.storage.media as media

    monkeypatch.setattr(media, "MAX_KEPT_BYTES", 10)
    [big] = describe_compare(card, "Size?", ["seer"], specs=specs, payer=ImagePayer(store=store))
    store.writer.flush(5)
    assert store.get_run(big.run_id).results[0].text == big.text and store.media_of(big.run_id) == []
    # Without a store nothing is kept, and nothing says it was.
    [alone] = paint_compare("a red fox", ["painter"], specs=specs, payer=ImagePayer())
    assert alone.ok and alone.run_id is None


def test_hosted_image_calls_are_refused_past_the_budget_before_anything_is_sent_or_kept(scripted):
    from playground.core import HostedPolicy, User
    from playground.core.policy import Limits, day_start
    from playground.engine import Keyring
    from playground.hosting import Gate, LimitExceededError

    bob = User("https://id.example|bob", "Bob", "bob@example.com")
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    gate = Gate(HostedPolicy(enabled=True, limits=Limits(daily_usd=Decimal("0.05"))))
    painter = hosted(
        scripted, "paid-painter", "text-to-image", "images~id=paid-painter", price_per_image=Decimal("0.04")
    )
    painter = dataclasses.replace(painter, api_key_env="ADMIN_KEY")  # the server's key, for its own URL
    store = Store()
    payer = ImagePayer(bob, store, gate)
    [first] = paint_compare("a fox", [painter.key], specs={painter.key: painter}, keys=keys, payer=payer)
    assert first.ok and store.spent_since(bob.id, day_start()) == Decimal("0.04")  # charged to Bob
    assert gate.going(bob) == []  # freed when the comparison ended
    sent, kept = len(scripted.requests), len(store.list_runs(limit=1000, owner=bob.id))
    with pytest.raises(LimitExceededError, match="PLAYGROUND_USER_DAILY_USD"):
        paint_compare("a fox", [painter.key], specs={painter.key: painter}, keys=keys, payer=payer)
    assert len(scripted.requests) == sent  # refused before anything was sent
    assert len(store.list_runs(limit=1000, owner=bob.id)) == kept == 1  # and nothing kept


def test_a_labelled_image_set_is_scored_with_intervals_and_a_failing_model_names_its_images(
    scripted, monkeypatch, tmp_path
):
    from playground.core.stats import mean_ci95
    from playground.evals import MetricChoice, evaluate_describers, read_image_set, shipped_image_set
    from playground.evals.metrics import MetricError

    monkeypatch.setenv(KEY_ENV, "sk-scripted-images-0000")
    price = {"price_input_per_mtok": Decimal("0.15"), "price_output_per_mtok": Decimal("0.60")}
    specs = {
        "seer": hosted(scripted, "seer", "chat", "vision", accepts_images=True, **price),
        "blind": hosted(scripted, "blind", "image-to-text", "status~code=500"),
    }
    for name, size in (("a.png", (64, 48)), ("b.png", (32, 32)), ("c.png", (10, 10))):
        (tmp_path / name).write_bytes(png(*size))
    # The scripted vision model says the size it decoded: right twice, wrong once.
    (tmp_path / "set.csv").write_text(
        "file,prompt,reference\na.png,Size?,image 64x48\nb.png,Size?,image 32x32\nc.png,Size?,image 99x99\n"
    )
    store = Store()
    payer = ImagePayer(store=store)
    result = evaluate_describers(
        read_image_set(tmp_path / "set.csv"),
        ["seer", "blind"],
        MetricChoice("contains"),
        specs=specs,
        payer=payer,
    )
    seer, blind = result.summaries
    assert seer.score is not None and (seer.score.mean, seer.score.n) == (2 / 3, 3)
    assert (seer.score.mean, seer.score.low, seer.score.high) == mean_ci95([1.0, 1.0, 0.0])  # Wilson
    assert seer.failed == () and seer.cost_usd is not None and seer.cost_usd > 0 and seer.seconds_p50
    assert blind.score is None and blind.failed == ("a.png", "b.png", "c.png")
    assert [row["contains"] for row in result.table_rows()] == [str(seer.score), "–"]
    assert len(ledger(store, payer.ref_id)) == 6  # every call that reached a model, in the ledger
    assert store.list_runs(limit=1000, text="Size?") == []  # an evaluation's calls are not kept as runs

    (tmp_path / "escape.csv").write_text("file,prompt,reference\n../outside.png,Size?,x\n")
    with pytest.raises(ImagesError, match=r"escape.csv, line 2: ../outside.png is outside the set's folder"):
        read_image_set(tmp_path / "escape.csv")
    with pytest.raises(MetricError, match="scored against its references"):
        evaluate_describers(shipped_image_set(), ["seer"], MetricChoice("valid_json"), specs=specs)
    cards = shipped_image_set()
    assert [c.reference for c in cards] == ["red", "green", "blue", "1", "2", "3"]
    assert all(c.image.mime == "image/png" and c.prompt.endswith(".") for c in cards)

    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.seer]\nprovider = "openai"\nmodel = "seer"\nbase_url = "{scripted.url("vision")}"\n'
        f'api_key_env = "{KEY_ENV}"\naccepts_images = true\n'
    )
    ran = runner.invoke(
        app,
        ["describe-eval", str(tmp_path / "set.csv"), "-m", "seer", "--models-file", str(models), "--json"],
    )
    assert ran.exit_code == 0, ran.output
    [line] = [json.loads(x) for x in ran.stdout.splitlines()]
    assert line["model"] == "seer" and line["contains"]["mean"] == 2 / 3 and line["failed"] == []


def test_built_in_image_models_are_priced_per_image_never_zero_and_specs_are_checked():
    from playground.engine.pricing import cost_source, image_cost_of, price_for

    specs = load_specs()
    assert specs["gpt-4o-mini"].sees_images and not specs["gpt-4.1-mini"].sees_images
    assert image_cost_of(specs["dall-e-3"], "1024x1024") == (Decimal("0.04"), "override")
    assert image_cost_of(specs["gpt-image-1"], "1024x1024") == (Decimal("0.042"), "override")
    assert price_for(specs["dall-e-3"]) is None and cost_source(specs["dall-e-3"]) == "override"
    unpriced = ModelSpec(key="x", provider="openai", model="x", task="text-to-image")
    assert image_cost_of(unpriced, "1024x1024") == (None, "unknown")
    with pytest.raises(SpecError, match="price_per_image cannot be 0"):
        parse_models_text(
            '[models.x]\nprovider="openai"\nmodel="x"\ntask="text-to-image"\nprice_per_image=0\n', "f"
        )
    with pytest.raises(SpecError, match="accepts_images is for chat models of a provider that sends images"):
        parse_models_text('[models.x]\nprovider="llamacpp"\nmodel="x"\naccepts_images=true\n', "f")


runner = CliRunner()


def test_cli_describe_and_paint_end_to_end(scripted, monkeypatch, tmp_path):
    monkeypatch.setenv(KEY_ENV, "sk-scripted-images-0000")
    models = tmp_path / "models.toml"
    models.write_text(
        f'[models.seer]\nprovider = "openai"\nmodel = "seer"\nbase_url = "{scripted.url("vision")}"\n'
        f'api_key_env = "{KEY_ENV}"\naccepts_images = true\n\n'
        f'[models.painter]\nprovider = "openai"\nmodel = "painter"\nbase_url = "{scripted.url("images~w=32~h=32")}"\n'
        f'api_key_env = "{KEY_ENV}"\ntask = "text-to-image"\nprice_per_image = "0.04"\n'
    )
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(40, 30))
    result = runner.invoke(
        app, ["describe", str(photo), "How big?", "-m", "seer", "--models-file", str(models), "--json"]
    )
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["model"] == "seer" and line["text"].strip() == "image 40x30" and line["input_tokens"] == 1000

    result = runner.invoke(
        app, ["describe", str(photo), "How big?", "-m", "seer", "--models-file", str(models)]
    )
    assert (
        result.exit_code == 0
        and "photo.png: 40x30 image/png" in result.stdout
        and "image 40x30" in result.stdout
    )

    broken = tmp_path / "broken.png"
    broken.write_bytes(png(40, 30)[:60])
    result = runner.invoke(app, ["describe", str(broken), "hi", "-m", "seer", "--models-file", str(models)])
    assert result.exit_code == 2 and result.stderr.startswith("error: broken.png is corrupt")

    out_dir = tmp_path / "pictures"
    result = runner.invoke(
        app,
        ["paint", "a fox", "-m", "painter", "--out", str(out_dir), "--models-file", str(models), "--json"],
    )
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["file"] == str(out_dir / "painter.png") and line["cost_usd"] == "0.04"
    with Image.open(out_dir / "painter.png") as written:
        assert written.size == (32, 32)

    result = runner.invoke(app, ["paint", "a fox", "-m", "seer", "--models-file", str(models)])
    assert result.exit_code == 2 and "not a text-to-image one" in result.stderr
