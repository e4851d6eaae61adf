"""The router: from a text (and district, chosen category, submitter type) to categories and departments.

Pure logic, no database: `CatalogView` is a snapshot of the catalog, `Router` is fitted on it and on
labelled past tickets. Text is represented as character n-grams (robust to Chinese without
segmentation errors, to typos and to mixed scripts), as words (jieba for Chinese, Porter stems for
English) and as a multilingual sentence embedding. Each category is scored by three models whose
probabilities are mixed:

* prototype similarity: the cosine between the text and each category's prototype, the normalised
  mean of its catalog texts, blended with the mean of its confirmed tickets in proportion to how
  many there are. A prototype has no prior for frequent categories, so a history dominated by a few
  common categories cannot crowd out rare ones;
* a linear classifier (logistic regression, classes balanced) on the same texts, catalog texts
  weighted so that every category keeps its voice however skewed the history is;
* sentence meaning (`semantic`): the cosine between the text's multilingual sentence embedding and
  each of the category's catalog texts, the closest counting. It finds the category when the words
  differ from the catalog's ("水淹到膝盖" for road flooding) and across languages. It speaks for the
  catalog, so its share in a category's score shrinks as that category's confirmed tickets teach the
  two lexical models a city's own words for it.

What a sender sets aside ("不是工地的事", "the bus is fine") is taken out of the text and counts
against the categories it names (`set_aside`).

Multi-issue items are found by scoring each clause of the text on its own.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from participation.core.imports import load
from participation.routing import semantic as meaning
from participation.text import stop_words

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_LATIN = re.compile(r"[a-z]+(?:'[a-z]+)?")
# A comma between digits is a thousands separator ("12,000"), not the end of a clause.
_CLAUSE = re.compile(
    r"(?:[。！？；;!?\n，、]|(?<!\d),|,(?!\d))+|(?<=[a-z])\.\s+"
    r"|\b(?:and also|also|plus|besides|but|and)\b|另外|还有|而且|并且|同时|此外|但是"
)
# Where a text turns: the pieces a sender may set aside before saying what the item is about.
_PIECE = re.compile(
    r"(?:[。！？；;!?\n，、：:]|(?<!\d),|,(?!\d))+|(?<=[a-z])\.\s+|(?<!\s)\s+-\s+|\b(?:but|however)\b|但是|可是|不过"
)
# A piece that sets a subject aside ("不是工地的事", "路灯是好的", "not a bus complaint", "the trees are
# fine"): the language's own markers of negation, dismissal and concession, not words of any catalog.
_DISMISS = re.compile(
    # Chinese: 不是… at the start (but not 不是说好…, 不是一般的…), 跟…无关, …是好的, …修好了, …没问题, 倒是, 都忍了.
    r"^(?:这|那)?(?:并|也)?不是(?!说好|一般|很|太|第一次|一两天|一天两天|每次)"
    # 不是 after a short subject only when the sender speaks of their own item (我投诉的不是…, 我们公司不是来…,
    # 我说的不是…, 那家饭店不是问题): "公交车不是晚点就是不来", "停电已经不是一次两次了", "物业说不是他们管的",
    # "以前不是这样的" and questions ending in 吗 / 嘛 / 呢 are complaints, not asides.
    r"|^(?!.*[吗嘛呢]$)(?:"
    r"(?![^，。！？]*就是)(?:我们?|咱们?|本人)[^，。！？]{0,5}?(?<![是要可又也就还])不是"
    r"(?!没|不|唯一|说好|一般|很|太|第一|一两|一次|一天两天|每次|一直|三天两头|坏)"
    r"|(?:[^，。！？]{0,6}(?:投诉|反映|举报|咨询)|(?:我们?|咱们?)(?:要|想)?(?:说|问))的(?:事|问题)?不是"
    r"|[^，。！？]{1,8}不是(?:问题|重点|关键|主要问题|我要(?:说|投诉|反映)的)"
    r"|(?![^，。！？]*说不是)[^，。！？]{1,8}不是(?![^，。！？]*(?:[小大]问题|小事|大事|[天次年月回]|什么|个))"
    r"[^，。！？]{1,5}(?:问题|的事)$)"
    r"|不关.{0,8}事|(?:跟|和|与).{1,10}(?<!有)(?:无关|没关系|没有关系)|倒是|不说$|先不说"
    # 倒还好 / 倒能忍 …, but not beside a time or frequency ("白天噪音倒还好，一到晚上…" is about the noise).
    r"|^(?![^，。！？]*(?:白天|晚上|夜里|平时|平常|[春夏秋冬]天|偶尔|有时|以前|之前|刚开始|周末|早上|上午|下午|小雨))"
    r"[^，。！？]*倒(?:还好|还行|能忍|无所谓|不在乎)"
    # The sender's 不在乎 / 无所谓 / 认了, not someone else's ("物业根本不在乎" is the complaint), nor a condition.
    r"|我们?(?:也|都|倒)?(?:不在乎|无所谓)$"
    r"|^(?![^，。！？]*(?:如果|要是|假如|就算|只是|几天|一两天|一阵|一会))[^，。！？]*我们?(?:也|就)?认了$"
    r"|(?:都|就)忍了|忍了$|算了$|修好了(?:谢谢)?$|是好的$|(?<!有)没问题$|没毛病|挺好的?$|谢谢$|不评价"
    # 先放一边, 不提了, 并非, 还能接受, 已经解决了 / 没什么问题 (not what someone says: "检测员说没什么问题"), 没意见.
    r"|(?:事|问题)先?放一边|不提了$|^(?:这|那)?并非|^(?![^，。！？]*(?:谁|怎么|哪))[^，。！？]*还能接受$"
    r"|^(?![^，。！？]*说)[^，。！？]*(?:已经解决了|没(?:什么|啥)(?:问题|毛病))$|没意见$|^(?:我们?)?不投诉|是次要的$"
    # English: not a / not about … (but not "not a single", "not the first"), … is fine, forget the …
    r"|^(?:it'?s |this is |this isn'?t |i'?m |we'?re )?not "
    r"(?:a(?! single)|an|the(?! first| only)|about(?! one\b| just\b)|my|our|that|this|why|because)\b"
    r"|that'?s not (?:why|what|the)|\bnot why\b|don'?t send|nothing to do with|forget (?:the|about)"
    # … is not / isn't about (not "about to", "about half", nor what someone said), the sender's own
    # "not complaining / asking about", "no … issue at all" (not a past state or someone's claim).
    r"|^(?!.*\b(?:says?|said|claims?|claimed|told)\b)(?:.*\bnot|.*\b(?:is|are|was|were|do|does|did)n'?t) "
    r"(?:here |writing |calling |complaining |asking |reporting |talking )?about\b"
    r"(?! to\b| half\b| \d| one\b| just\b| a single\b)"
    r"|(?:^|\bi'?m |\bi am |\bwe'?re |\bwe are )not (?:complaining|asking|reporting|writing)\b"
    r"(?! for\b| about (?:one|just|a single)\b)"
    r"|^(?!.*\b(?:says?|said|claims?|claimed|insists?|before|until|till|used to|last|was|were|had)\b)"
    r".*\bno \w+ (?:issue|problem)s? at all\b"
    r"|never mind|\b(?:is|are|was|were) (?:fine|ok|okay|sorted)\b"
    r"|\b(?:is|are|was|were|been|got) (?:now |already )?fixed\b|can live with|\bthank(?:s|\s+you)?\b(?!\s+to\b)"
    # … isn't the issue, "noise aside", leaving aside, the sender's "I don't mind / I'm fine with" (not
    # beside a time: "I don't mind the noise during the day, but at 3am …"), "has been repaired".
    r"|(?:isn'?t|aren'?t|not) (?:the|an) (?:problem|issue)(?! for\b)|^\w+(?: \w+)? aside$|\bleaving aside\b"
    r"|\bi have no problem with\b|^(?:i|we) couldn'?t care less|\bnot fussed\b|\bunrelated to\b"
    r"|^(?!.*\b(?:during|day|daytime|night|morning|evening|weekends?|sometimes|usually|once)\b)"
    r".*\b(?:i|we) (?:don'?t|do not) mind\b|^(?!.*\b(?:during|day|daytime|night|morning|evening|weekends?))"
    r".*\b(?:i'?m|i am|we'?re|we are) fine with\b|^(?!none|nothing|no )\S.*\b(?:has|have) been (?:repaired|fixed)$"
)
_jieba_lock = threading.Lock()


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    lead: str
    co: tuple[str, ...]
    texts: tuple[str, ...]
    district_co: bool = False
    enterprise_only: bool = False


@dataclass(frozen=True)
class CatalogView:
    categories: dict[str, CategoryInfo]
    district_office: dict[str, str] = field(default_factory=dict)  # district code -> office department code

    @classmethod
    def from_document(cls, doc: dict) -> CatalogView:
        """Build from the catalog file format (used by `routing evaluate` and the tests); a document the
        router cannot read raises ValidationFailed with the places of its problems."""
        from participation.routing.schemas import read_catalog

        catalog = read_catalog(doc)
        categories = {
            c.code: CategoryInfo(
                code=c.code,
                lead=c.lead,
                co=tuple(c.co),
                texts=tuple(c.texts()),
                district_co=c.district_co,
                enterprise_only=c.enterprise_only,
            )
            for c in catalog.categories
            if c.active
        }
        offices = {d.code: d.office for d in catalog.districts if d.office}
        return cls(categories=categories, district_office=offices)


@dataclass
class Decision:
    categories: list[tuple[str, float]]  # chosen categories, primary first, with confidences
    lead: str | None
    co: list[str]
    needs_triage: bool
    confidence: float
    suggestions: list[tuple[str, float]]  # the top three for the primary category

    def as_dict(self) -> dict:
        return {
            "categories": [{"code": c, "confidence": round(p, 4)} for c, p in self.categories],
            "lead": self.lead,
            "co": self.co,
            "needs_triage": self.needs_triage,
            "confidence": round(self.confidence, 4),
            "suggestions": [{"code": c, "confidence": round(p, 4)} for c, p in self.suggestions],
        }


@lru_cache(maxsize=1)
def _stemmer():
    return load("nltk.stem.porter").PorterStemmer()


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


@lru_cache(maxsize=1)
def _jieba():
    jieba = load("jieba")
    jieba.setLogLevel(logging.WARNING)  # once: setting a logger's level clears every logger's cache
    return jieba


def words(text: str, runs: dict[str, list[str]] | None = None) -> list[str]:
    """Chinese words (jieba) and English stems, without stop words or punctuation.

    jieba cuts each run of Chinese characters on its own, so a run is cut once per `runs` (a memo the
    caller keeps for texts that share runs, such as a text and its clauses)."""
    text = text.lower()
    out: list[str] = []
    stem, stop = _stem, stop_words()
    for match in _LATIN.finditer(text):
        word = match.group()
        if word not in stop and len(word) > 1:
            out.append("e:" + stem(word))
    runs = {} if runs is None else runs
    for run in _CJK_RUN.findall(text):
        tokens = runs.get(run)
        if tokens is None:
            with _jieba_lock:
                tokens = runs[run] = ["z:" + t for t in _jieba().lcut(run) if t.strip()]
        out.extend(tokens)
    return out


def _chars(text: str) -> str:
    """Lower-cased text with runs of non-letters folded to one space (for character n-grams)."""
    return re.sub(r"[\W\d_]+", " ", text.lower()).strip()


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Where the text's pieces that are long enough to carry an issue of their own lie (characters)."""
    out, start = [], 0
    for mark in chain(_CLAUSE.finditer(text), [None]):
        end = mark.start() if mark else len(text)
        piece = text[start:end]
        stripped = piece.lstrip(" ,，")
        a = start + len(piece) - len(stripped)
        b = a + len(stripped.rstrip(" ,，"))
        if len(_CJK.findall(text, a, b)) >= 5 or len(_LATIN.findall(text[a:b].lower())) >= 4:
            out.append((a, b))
        if mark:
            start = mark.end()
    return out


def set_aside(text: str) -> tuple[str, str | None]:
    """Split a text into what it is about and what its sender sets aside (None when nothing is).

    "不是自来水管漏了，是雨一大门口这条沟排不走" is about the drain, not the water main: the pieces
    that negate or dismiss a subject are taken out, as long as something is left."""
    pieces = [p.strip() for p in _PIECE.split(text) if p and p.strip()]
    kept: list[str] = []
    gone: list[str] = []
    for piece in pieces:
        (gone if _DISMISS.search(piece.lower()) else kept).append(piece)
    if gone and kept:
        return "，".join(kept), "，".join(gone)
    return text, None


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Router:
    """Fitted on a catalog and (optionally) labelled past tickets; answers `suggest`."""

    version = 5  # of the fitted model's make: a stored router of another version is fitted again
    proto_temperature = 12.0
    char_analyzer = "char_wb"
    char_ngrams = (1, 3)
    C = 10.0
    word_weight = 1.0
    proto_weight = 0.5
    history_k = 8.0
    proto_history = False
    secondary_rank = 4
    semantic_weight = 0.4  # the sentence-meaning model's share for a category with no history ...
    semantic_history_k = 25.0  # ... times k / (k + the category's confirmed tickets)
    semantic_temperature = 15.0
    first_raised = True  # a multi-issue item's categories in the order its text raises them, the first primary
    set_aside_weight = 3.0  # a set-aside subject's probability p scales its category by 1 - 3p (at least 0)

    def __init__(
        self,
        catalog: CatalogView,
        history: list[tuple[str, list[str]]] | None = None,
        *,
        threshold: float = 0.3,
        secondary_threshold: float = 0.18,
        history_k: float | None = None,
        semantic: bool = True,
    ):
        self.catalog = catalog
        self.threshold = threshold
        self.secondary_threshold = secondary_threshold
        self.history_k = history_k if history_k is not None else type(self).history_k
        self.semantic = semantic
        self.codes = sorted(catalog.categories)
        self._index = {c: i for i, c in enumerate(self.codes)}
        history = [(t, [c for c in cats if c in self._index]) for t, cats in (history or [])]
        self.history = [(t, cats) for t, cats in history if cats and t.strip()]
        self._fit()

    # -- training -------------------------------------------------------------------------
    def _fit(self) -> None:
        docs: list[str] = []
        labels: list[int] = []
        source: list[int] = []  # 0 catalog, 1 history
        for code in self.codes:
            info = self.catalog.categories[code]
            for text in info.texts:
                docs.append(text)
                labels.append(self._index[code])
                source.append(0)
        for text, cats in self.history:
            docs.append(text)
            labels.append(self._index[cats[0]])
            source.append(1)
        self._chars = TfidfVectorizer(
            analyzer=self.char_analyzer, ngram_range=self.char_ngrams, sublinear_tf=True, min_df=1
        )
        self._words = TfidfVectorizer(analyzer=words, sublinear_tf=True, min_df=1)
        self._chars.fit([_chars(d) for d in docs])
        self._words.fit(docs)
        self._prepare_vocabulary()
        X = self._vectorise(docs)
        y = np.array(labels)
        src = np.array(source)

        n = len(self.codes)
        protos = np.zeros((n, X.shape[1]))
        for i in range(n):
            catalog_rows = X[(y == i) & (src == 0)]
            base = (
                normalize(np.asarray(catalog_rows.mean(axis=0))) if catalog_rows.shape[0] else np.zeros((1, X.shape[1]))
            )
            history_rows = X[(y == i) & (src == 1)]
            if history_rows.shape[0] and self.proto_history:
                m = history_rows.shape[0]
                alpha = m / (m + self.history_k)
                learned = normalize(np.asarray(history_rows.mean(axis=0)))
                base = normalize((1 - alpha) * base + alpha * learned)
            protos[i] = base

        # Balanced weights: each category's catalog texts weigh as much as its history, and every
        # category weighs the same in total, however skewed the history.
        weights = np.ones(len(docs))
        for i in range(n):
            for s in (0, 1):
                mask = (y == i) & (src == s)
                count = int(mask.sum())
                if count:
                    weights[mask] = 1.0 / count
        self._clf = LogisticRegression(C=self.C, max_iter=2000)
        present = sorted(set(y.tolist()))
        self._clf_classes = np.array(present)
        with warnings.catch_warnings():
            # A catalog of names only has one or two texts a category: scikit-learn then wonders whether
            # this is a regression problem. It is not, and the person running `routing evaluate` need not
            # be told.
            warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
            self._clf.fit(X, y, sample_weight=weights * len(present))

        # Both lexical models' weights per feature side by side: a text's features are read in one gather.
        self._lexical_t = np.ascontiguousarray(np.hstack([protos.T, self._clf.coef_.T]))
        self._intercept = self._clf.intercept_
        self._allowed_citizen = np.array([not self.catalog.categories[c].enterprise_only for c in self.codes])
        if self.semantic:
            catalog = src == 0
            self._fit_meaning([d for d, c in zip(docs, catalog, strict=True) if c], y[catalog])
            # Category by category: the lexical models learn a city's words for the categories its
            # history holds, and only for those; a rare category keeps the sentence model's full voice.
            confirmed = np.bincount(y[src == 1], minlength=n)
            self._semantic_share = (
                self.semantic_weight * self.semantic_history_k / (self.semantic_history_k + confirmed)
            )

    def _fit_meaning(self, docs: list[str], labels: np.ndarray) -> None:
        """Every catalog text as an exemplar of its category, the exemplars grouped by category."""
        order = np.argsort(labels, kind="stable")
        self._exemplars = meaning.Exemplars(meaning.embed([docs[i] for i in order]))
        grouped = labels[order]
        self._exemplar_codes = np.unique(grouped)
        self._exemplar_starts = np.searchsorted(grouped, self._exemplar_codes)

    def _prepare_vocabulary(self) -> None:
        """Keep what vectorising needs as plain arrays: one text at a time must be fast."""
        self._char_analyzer = self._chars.build_analyzer()
        self._char_vocab = self._chars.vocabulary_
        self._char_idf = self._chars.idf_
        self._word_vocab = self._words.vocabulary_
        self._word_idf = self._words.idf_
        self._offset = len(self._char_vocab)
        self._width = self._offset + len(self._word_vocab)

    def _vectorise(self, texts: list[str]):
        """TF-IDF (sublinear tf, l2) of characters and of words, side by side, normalised."""
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, (index, weights) in enumerate(self._rows(texts)):
            rows.extend([i] * len(index))
            cols.extend(index.tolist())
            vals.extend(weights.tolist())
        return sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), self._width))

    def _rows(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text as (feature indices, weights), without the overhead of sparse matrices."""
        out = []
        grams: dict[str, list[int]] = {}  # a word's character n-grams, once per call: clauses repeat
        runs: dict[str, list[str]] = {}  # their text's words
        analyzer, char_vocab, word_vocab = self._char_analyzer, self._char_vocab, self._word_vocab
        for text in texts:
            char_ids: list[int] = []
            for word in _chars(text).split():  # char_wb n-grams never cross a space: word by word
                ids = grams.get(word)
                if ids is None:
                    ids = grams[word] = [i for i in map(char_vocab.get, analyzer(word)) if i is not None]
                char_ids.extend(ids)
            word_ids = [i for i in map(word_vocab.get, words(text, runs)) if i is not None]
            indices, weights = [], []
            for ids, idf, offset in ((char_ids, self._char_idf, 0), (word_ids, self._word_idf, self._offset)):
                if not ids:
                    continue
                counts = Counter(ids)
                index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                w = (1.0 + np.log(tf)) * idf[index]
                indices.append(index + offset)
                weights.append(w / np.sqrt(w @ w) * (self.word_weight if offset else 1.0))
            if indices:
                index, w = np.concatenate(indices), np.concatenate(weights)
                out.append((index, w / np.sqrt(w @ w)))
            else:
                out.append((np.zeros(0, dtype=np.int64), np.zeros(0)))
        return out

    # -- scoring --------------------------------------------------------------------------
    def _scores(self, texts: list[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """Category probabilities for each text (rows), mixing the models (`vectors`: the texts' sentence
        vectors when the caller has them)."""
        both = np.zeros((len(texts), self._lexical_t.shape[1]))
        for i, (index, weights) in enumerate(self._rows(texts)):
            both[i] = weights @ self._lexical_t[index]
        n = len(self.codes)
        sims, logits = both[:, :n], both[:, n:]
        proto_p = _softmax(sims * self.proto_temperature)
        logits += self._intercept
        clf_p = np.zeros_like(proto_p)
        clf_p[:, self._clf_classes] = _softmax(logits)
        lexical = self.proto_weight * proto_p + (1 - self.proto_weight) * clf_p
        if not self.semantic:
            return lexical
        if vectors is None:
            vectors = meaning.embed(texts)
        share = self._semantic_share
        mixed = (1 - share) * lexical + share * self._meaning(vectors)
        return mixed / mixed.sum(axis=1, keepdims=True)

    def _meaning(self, vectors: np.ndarray) -> np.ndarray:
        """Category probabilities from the closest exemplar of each category in meaning."""
        cosines = self._exemplars.cosines(vectors)
        best = np.full((len(vectors), len(self.codes)), -1.0)
        best[:, self._exemplar_codes] = np.maximum.reduceat(cosines, self._exemplar_starts, axis=1)
        return _softmax(best * self.semantic_temperature)

    def suggest(
        self,
        text: str,
        district: str | None = None,
        category: str | None = None,
        enterprise: bool = False,
    ) -> Decision:
        """Decide categories, lead and co-handlers for one item."""
        return self.suggest_many([text], [district], [category], [enterprise])[0]

    def suggest_many(self, texts, districts=None, chosen=None, enterprise=None) -> list[Decision]:
        n = len(texts)
        if not n:
            return []
        districts = districts or [None] * n
        chosen = chosen or [None] * n
        enterprise = enterprise or [False] * n
        split = [set_aside(t) for t in texts]
        about = [a for a, _ in split]
        aside = [i for i, (_, g) in enumerate(split) if g]
        # A single clause is the text itself: only two or more are scored on their own.
        spans = [s if len(s) > 1 else [] for s in map(clause_spans, about)]
        pieces = [[a[i:j] for i, j in s] for a, s in zip(about, spans, strict=True)]
        flat = about + [split[i][1] for i in aside] + [c for cs in pieces for c in cs]
        vectors = None
        if self.semantic:
            # One run of the sentence model per item: its text and what it sets aside, and each clause
            # read in place within the text (its neighbours its context) rather than run again alone.
            grouped = [
                meaning.embed_together(
                    [about[i]] + ([split[i][1]] if split[i][1] else []), [(0, a, b) for a, b in spans[i]]
                )
                for i in range(n)
            ]
            vectors = np.concatenate(
                [g[:1] for g in grouped]
                + [grouped[i][1:2] for i in aside]
                + [g[len(g) - len(pieces[i]) :] for i, g in enumerate(grouped)]
            )
        scores = self._scores(flat, vectors)
        for row, i in enumerate(aside):
            # What is set aside is pushed down as far as the model is sure of it: a vague aside barely counts.
            dismissed = scores[n + row]
            scores[i] *= np.clip(1 - self.set_aside_weight * dismissed, 0.0, 1.0)
        allowed_citizen = self._allowed_citizen
        out: list[Decision] = []
        offset = n + len(aside)
        for i in range(n):
            whole = scores[i].copy()
            parts = scores[offset : offset + len(pieces[i])]
            offset += len(pieces[i])
            if not enterprise[i]:
                whole = whole * allowed_citizen
                parts = parts * allowed_citizen if len(parts) else parts
            if chosen[i] in self._index:
                whole[self._index[chosen[i]]] += 0.35
            whole = whole / whole.sum() if whole.sum() > 0 else whole
            out.append(self._decide(whole, parts, districts[i]))
        return out

    def _decide(self, whole: np.ndarray, parts: np.ndarray, district: str | None) -> Decision:
        order = np.argsort(-whole)
        primary = self.codes[int(order[0])]
        chosen = [(primary, float(whole[order[0]]))]
        if len(parts) > 1:
            best: dict[str, float] = {}
            raised: dict[str, int] = {}  # the clause that first raises each category
            for k, row in enumerate(parts):
                row = row / row.sum() if row.sum() > 0 else row
                j = int(np.argmax(row))
                code = self.codes[j]
                best[code] = max(best.get(code, 0.0), float(row[j]))
                raised.setdefault(code, k)
            ranked = {self.codes[j] for j in order[: self.secondary_rank]}
            for code, p in sorted(best.items(), key=lambda kv: -kv[1]):
                if code != primary and p >= self.secondary_threshold and code in ranked:
                    chosen.append((code, p))
            chosen = chosen[:3]
            if self.first_raised and len(chosen) > 1:
                # A whole-text favourite that no clause raises on its own comes after those raised.
                chosen.sort(key=lambda cp: raised.get(cp[0], len(parts)))
                primary = chosen[0][0]
                chosen[0] = (primary, float(whole[self._index[primary]]))
        # The primary's confidence is the whole text's probability for it; the suggestions start with it.
        confidence = chosen[0][1]
        top = [(primary, confidence)] + [
            (self.codes[j], float(whole[j])) for j in order[:3] if self.codes[j] != primary
        ][:2]
        lead, co = self.departments([c for c, _ in chosen], district)
        return Decision(
            categories=chosen,
            lead=lead,
            co=co,
            needs_triage=confidence < self.threshold,
            confidence=confidence,
            suggestions=top,
        )

    def departments(self, categories: list[str], district: str | None) -> tuple[str | None, list[str]]:
        """Lead and co-handlers by the catalog's rule for these categories (primary first)."""
        infos = [self.catalog.categories[c] for c in categories if c in self.catalog.categories]
        office = self.catalog.district_office.get(district) if district else None
        return catalog_rule(infos, office)


def catalog_rule(infos: list[CategoryInfo], office: str | None) -> tuple[str | None, list[str]]:
    """The catalog's rule: the primary category's lead leads; its co-handlers, the other categories'
    leads and co-handlers, and the district office (when a category has `district_co`) co-handle."""
    if not infos:
        return None, []
    lead = infos[0].lead
    co: set[str] = set(infos[0].co)
    for info in infos[1:]:
        co.add(info.lead)
        co.update(info.co)
    if office and any(info.district_co for info in infos):
        co.add(office)
    co.discard(lead)
    return lead, sorted(co)
