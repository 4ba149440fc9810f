"""The Images page through AppTest against the scripted server: the drawn test card asked about by a
vision model beside one that fails, and a prompt painted (the picture from the server's own bytes)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.core.specs import ModelSpec
from tests.scripted_server import ScriptedServer

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def images_page(scripted: ScriptedServer) -> AppTest:
    def model(key: str, task: str, scenario: str, **fields: object) -> ModelSpec:
        return ModelSpec(
            key=key,
            provider="openai",
            model=key,
            task=task,
            base_url=scripted.url(scenario),
            source="session",
            **fields,
        )

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["custom_specs"] = {
        "seer": model("seer", "chat", "vision", accepts_images=True),
        "blind": model("blind", "image-to-text", "status~code=500"),
        "painter": model("painter", "text-to-image", "images", price_per_image=Decimal("0.04")),
    }
    at.run()
    at.switch_page("pages/images.py").run()
    assert not at.exception, at.exception
    return at


def test_the_test_card_is_asked_about_and_a_failing_model_stays_in_its_column(scripted: ScriptedServer):
    at = images_page(scripted)
    assert at.multiselect(key="see-models").value == []  # nothing that costs money starts chosen
    at.multiselect(key="see-models").set_value(["seer", "blind"]).run()
    at.button(key="see-run").click().run()
    assert not at.exception, at.exception
    assert any("image 320x200" in m.value for m in at.markdown)  # the server decoded the card we sent
    assert [e.value.split(":")[0] for e in at.error] == ["server\\_error"]  # through plain()
    assert "TTFT" in " ".join(c.value for c in at.caption)


def test_a_prompt_is_painted_and_shown_from_the_server_s_bytes(scripted: ScriptedServer):
    at = images_page(scripted)
    at.multiselect(key="paint-models").set_value(["painter"]).run()
    at.button(key="paint-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("image")) == 2  # the test card above, and the painted picture in its column
    assert "per image (override)" in " ".join(c.value for c in at.caption)
    at.text_input(key="paint-size").input("big").run()
    at.button(key="paint-run").click().run()
    assert "size must be WIDTHxHEIGHT" in at.error[0].value


def test_a_kept_painting_opens_from_its_share_link_and_from_history(scripted: ScriptedServer):
    import re

    at = images_page(scripted)
    at.multiselect(key="paint-models").set_value(["painter"]).run()
    at.text_area(key="paint-prompt").input("A fox **in** <b>bold</b>").run()
    at.button(key="paint-run").click().run()
    saved = next(c.value for c in at.caption if c.value.startswith("Saved in History"))
    run_id = re.search(r"\?run=([0-9a-f]{32})", saved).group(1)

    shared = AppTest.from_file(APP, default_timeout=120)
    shared.query_params["run"] = run_id
    shared.run()
    assert not shared.exception, shared.exception
    assert len(shared.get("image")) == 1  # the picture, from the store's bytes
    assert any("text-to-image" in c.value and run_id in c.value for c in shared.caption)
    prompt = next(m.value for m in shared.markdown if m.value.startswith("**Prompt:**"))
    assert "<b>" not in prompt and "\\*\\*in\\*\\*" in prompt  # the prompt as plain text
    assert "per image (override)" in " ".join(c.value for c in shared.caption)

    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="h-open").set_value(run_id).run()
    assert len(at.get("image")) == 1 and not at.exception
    assert "h-rerun" not in [b.key for b in at.button]  # a painting is re-run on the Images page


def test_the_shipped_cards_are_evaluated_into_a_table_with_intervals(scripted: ScriptedServer):
    at = images_page(scripted)
    at.multiselect(key="see-set-models").set_value(["seer", "blind"]).run()
    assert at.selectbox(key="see-set-metric").value == "contains"
    # (contains would pass "2" in "image 256x256": the whole answer must match)
    at.selectbox(key="see-set-metric").set_value("quasi_exact_match").run()
    at.button(key="see-set-run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [table] = at.dataframe
    rows = table.value.to_dict("records")
    assert list(rows[0])[1] == "quasi_exact_match"
    # The scripted model names the card's size, never its colour or count.
    assert [(r["model"], r["quasi_exact_match"], r["failed"]) for r in rows] == [
        ("seer", "0.0% (0.0%–39.0%)", "none"),  # 0 of 6, with Wilson's interval
        (
            "blind",
            "–",
            "square-red.png, square-green.png, square-blue.png, circles-1.png, circles-2.png, circles-3.png",
        ),
    ]
