r"""Checks for the exercises of lesson 04 (BERT for recommendation).

``ex04_pair_input(history_ids, candidate_ids, max_length, cls_id, sep_id)``
    The cross-encoder input of one (user, candidate) pair from token ids (no special tokens):
    ``[CLS] history [SEP] candidate [SEP]``. The candidate is kept whole; the history is cut to
    :math:`b = L - 3 - |c|` tokens, **keeping its beginning** (histories list the most recent item
    first). Returns a dict with ``input_ids``, ``token_type_ids`` (0 up to and including the first
    ``[SEP]``, 1 after) and ``attention_mask`` (all 1: one pair, no padding), each a list of int.
    This is exactly what a Hugging Face BERT tokenizer returns for
    ``tokenizer(history, candidate, truncation="only_first", max_length=L)``.
``ex04_in_batch_loss(user_vectors, item_vectors, temperature)``
    The in-batch softmax loss of :math:`B` positive pairs (row :math:`b` of both arrays), as a float:

    .. math:: \mathcal L = -\frac1B \sum_b \log
       \frac{\exp(u_b^\top e_b / \tau)}{\sum_{c=1}^{B} \exp(u_b^\top e_c / \tau)}.
``ex04_lora_model(model, r)``
    Wrap a (tiny) ``transformers`` BERT with ``peft`` LoRA adapters of rank ``r`` (``lora_alpha = 2r``)
    on the attention ``query`` and ``value`` projections, so that **only the adapter weights**
    train. Returns the wrapped model.
``ex04_lora_settings(n_steps)``
    A training exercise: return LoRA settings ``{"r", "lora_alpha", "target_modules", "lr"}``. The check
    fine-tunes a tiny random cross-encoder (:meth:`coursekit.text.cross_encoder.CrossEncoder.tiny`) with
    them for ``n_steps`` steps on a synthetic colour task (:func:`colour_pairs`) and requires a validation
    AUC of at least 0.7 (chance 0.5) with only the adapters and the classification head trainable.

Expected answers come from independent references: the tokenizer-free construction below (the tests
check it against the MiniLM tokenizer's own pair encoding), a numpy log-sum-exp, and parameter counts
computed from the model's shapes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from coursekit.exercises.checks import Case, Exercise, Mistake, register
from coursekit.exercises.compare import compare_number

SEED = 20240404
CLS, SEP = 101, 102   # the ids of [CLS] and [SEP] in the BERT uncased vocabulary


# ---------------------------------------------------------------------------- pair input
def reference_pair_input(history_ids: list[int], candidate_ids: list[int], max_length: int, cls_id: int = CLS,
                         sep_id: int = SEP) -> dict[str, list[int]]:
    """``[CLS] history[:b] [SEP] candidate [SEP]`` with ``b = max_length - 3 - len(candidate)``.

    >>> reference_pair_input([7, 8, 9], [5], 6)
    {'input_ids': [101, 7, 8, 102, 5, 102], 'token_type_ids': [0, 0, 0, 0, 1, 1], 'attention_mask': [1, 1, 1, 1, 1, 1]}
    """
    hist, cand = [int(x) for x in history_ids], [int(x) for x in candidate_ids]
    budget = max(int(max_length) - 3 - len(cand), 0)
    ids = [cls_id] + hist[:budget] + [sep_id] + cand + [sep_id]
    types = [0] * (len(hist[:budget]) + 2) + [1] * (len(cand) + 1)
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}


def _pair_keep_end(history_ids, candidate_ids, max_length, cls_id=CLS, sep_id=SEP):
    hist = list(history_ids)
    budget = max(int(max_length) - 3 - len(candidate_ids), 0)
    return reference_pair_input(hist[len(hist) - budget:] if budget else [], candidate_ids, 10**9, cls_id, sep_id)


def _pair_types_zero(history_ids, candidate_ids, max_length, cls_id=CLS, sep_id=SEP):
    out = reference_pair_input(history_ids, candidate_ids, max_length, cls_id, sep_id)
    out["token_type_ids"] = [0] * len(out["input_ids"])
    return out


def _pair_no_last_sep(history_ids, candidate_ids, max_length, cls_id=CLS, sep_id=SEP):
    out = reference_pair_input(history_ids, candidate_ids, max_length + 1, cls_id, sep_id)
    return {k: v[:-1] for k, v in out.items()}


def _pair_cut_candidate(history_ids, candidate_ids, max_length, cls_id=CLS, sep_id=SEP):
    hist, cand = list(history_ids), list(candidate_ids)
    ids = ([cls_id] + hist + [sep_id] + cand)[: max_length - 1] + [sep_id]
    n_first = min(len(hist) + 2, len(ids))
    return {"input_ids": ids, "token_type_ids": [0] * n_first + [1] * (len(ids) - n_first),
            "attention_mask": [1] * len(ids)}


def compare_pair(expected: dict, got: Any) -> str | None:
    if not isinstance(got, dict):
        return f"return a dict with keys input_ids, token_type_ids, attention_mask; got {type(got).__name__}."
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        if key not in got:
            return f"the key {key!r} is missing."
        try:
            value = [int(x) for x in got[key]]
        except (TypeError, ValueError):
            return f"{key} must be a list of integers."
        if value != expected[key]:
            return f"{key} differs (expected length {len(expected[key])}, got length {len(value)})."
    return None


def _pair_cases() -> list[Case]:
    cases = [
        Case("hand: everything fits", ([7, 8, 9], [5, 6], 20),
             {"input_ids": [101, 7, 8, 9, 102, 5, 6, 102], "token_type_ids": [0, 0, 0, 0, 0, 1, 1, 1],
              "attention_mask": [1] * 8}),
        Case("hand: the history is cut, its beginning kept", ([7, 8, 9, 10], [5], 6),
             lambda: reference_pair_input([7, 8, 9, 10], [5], 6),
             hint="With max_length 6 and a 1-token candidate, 6 - 3 - 1 = 2 history tokens fit: keep the first two."),
        Case("empty history", ([], [5, 6], 16), lambda: reference_pair_input([], [5, 6], 16)),
    ]
    rng = np.random.default_rng(SEED)
    for j in range(5):
        hist = rng.integers(1000, 30000, int(rng.integers(0, 120))).tolist()
        cand = rng.integers(1000, 30000, int(rng.integers(1, 30))).tolist()
        L = int(rng.integers(len(cand) + 3, 130))
        cases.append(Case(f"random {j}: history {len(hist)}, candidate {len(cand)}, max_length {L}",
                          (hist, cand, L), lambda h=hist, c=cand, L=L: reference_pair_input(h, c, L)))
    return cases


register(Exercise(
    name="ex04_pair_input",
    title="The cross-encoder pair input [CLS] history [SEP] candidate [SEP]",
    cases=_pair_cases,
    compare=compare_pair,
    hint="budget = max_length - 3 - len(candidate_ids); ids = [cls_id] + history_ids[:budget] + [sep_id] + "
         "candidate_ids + [sep_id]; token types are 0 for [CLS], the history and the first [SEP], then 1; "
         "the attention mask is 1 for every token.",
    mistakes=[
        Mistake(_pair_keep_end, "You kept the END of the history. Histories list the most recent item first, so the "
                                "beginning is the newest taste: keep history_ids[:budget]."),
        Mistake(_pair_types_zero, "token_type_ids must switch to 1 after the first [SEP]: they tell BERT which "
                                  "segment (history or candidate) a token belongs to."),
        Mistake(_pair_no_last_sep, "A pair ends with a second [SEP] after the candidate."),
        Mistake(_pair_cut_candidate, "You truncated the whole sequence, cutting into the candidate. Only the history "
                                     "is truncated; the candidate is what we score and must stay whole."),
    ],
))


# ---------------------------------------------------------------------------- in-batch loss
def reference_in_batch_loss(user_vectors: np.ndarray, item_vectors: np.ndarray, temperature: float) -> float:
    """Mean softmax cross-entropy of the diagonal of ``U E^T / tau`` (stable log-sum-exp).

    >>> round(reference_in_batch_loss(np.eye(2), np.eye(2), 1.0), 4)
    0.3133
    """
    logits = np.asarray(user_vectors, float) @ np.asarray(item_vectors, float).T / float(temperature)
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True))).ravel()
    return float(np.mean(lse - np.diag(logits)))


def _loss_no_temperature(u, e, t):
    return reference_in_batch_loss(u, e, 1.0)


def _loss_sum(u, e, t):
    return reference_in_batch_loss(u, e, t) * len(u)


def _loss_columns(u, e, t):
    return reference_in_batch_loss(e, u, t)   # softmax over users instead of items


def _loss_bce(u, e, t):
    logits = np.asarray(u) @ np.asarray(e).T / t
    y = np.eye(len(u))
    p = 1 / (1 + np.exp(-logits))
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _loss_cases() -> list[Case]:
    cases = [Case("hand: two orthogonal pairs, tau = 1", (np.eye(2), np.eye(2), 1.0), float(np.log(1 + np.e ** -1)),
                  hint="Row 0: logits [1, 0], so -log(e / (e + 1)) = log(1 + e^-1) = 0.3133; the same for row 1.")]
    rng = np.random.default_rng(SEED + 1)
    for j, (B, d, t) in enumerate([(4, 3, 0.1), (16, 8, 0.05), (64, 32, 0.5)]):
        u, e = _unit(rng.normal(size=(B, d))), _unit(rng.normal(size=(B, d)))
        cases.append(Case(f"random {j}: B={B}, d={d}, tau={t}", (u, e, t),
                          lambda u=u, e=e, t=t: reference_in_batch_loss(u, e, t)))
    return cases


register(Exercise(
    name="ex04_in_batch_loss",
    title="The in-batch softmax (sampled softmax) loss of a two-tower model",
    cases=_loss_cases,
    compare=lambda expected, got: compare_number(expected, got, rtol=1e-6),
    hint="logits = user_vectors @ item_vectors.T / temperature (B x B); the positive of row b is column b. "
         "loss_b = logsumexp(logits[b]) - logits[b, b]; return the mean over b. Subtract the row maximum "
         "before exp for numerical stability.",
    mistakes=[
        Mistake(_loss_no_temperature, "Divide the similarities by the temperature before the softmax."),
        Mistake(_loss_sum, "Return the MEAN over the batch, not the sum."),
        Mistake(_loss_columns, "The softmax runs over the items of the batch for each user (along a row of "
                               "user_vectors @ item_vectors.T), not over users."),
        Mistake(_loss_bce, "That is a per-pair binary cross-entropy. The in-batch loss is a softmax over the "
                           "B items of the batch: one positive against B - 1 negatives."),
    ],
))


# ---------------------------------------------------------------------------- LoRA
def tiny_bert_model(seed: int = 0, hidden: int = 32, layers: int = 2) -> Any:
    """A tiny randomly initialised ``BertModel`` (vocabulary 1000) for the LoRA exercise."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    return BertModel(BertConfig(vocab_size=1000, hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=64))


def lora_parameter_count(model: Any, r: int) -> int:
    """Adapter parameters of rank-``r`` LoRA on every query and value projection: r (d_in + d_out) each."""
    total = 0
    for name, module in model.named_modules():
        if name.endswith(("query", "value")) and hasattr(module, "in_features"):
            total += r * (module.in_features + module.out_features)
    return total


def reference_lora_model(model: Any, r: int) -> Any:
    from peft import LoraConfig, get_peft_model

    return get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0,
                                            target_modules=["query", "value"]))


def compare_lora(expected: int, got: Any) -> str | None:
    if got is None or not hasattr(got, "named_parameters"):
        return f"return the wrapped model (get_peft_model(...)), got {type(got).__name__}."
    trainable = [(n, p) for n, p in got.named_parameters() if p.requires_grad]
    if not trainable:
        return "nothing is trainable: the adapters must train."
    others = [n for n, _ in trainable if "lora_" not in n]
    if others:
        return f"{len(others)} trainable tensors are not LoRA adapters, e.g. {others[0]}: freeze everything else."
    if not any(".query." in n for n, _ in trainable) or not any(".value." in n for n, _ in trainable):
        return "put the adapters on the attention 'query' and 'value' projections (target_modules)."
    count = sum(p.numel() for _, p in trainable)
    if count != expected:
        return (f"{count:,} trainable adapter parameters, expected {expected:,} (rank r on query and value of every "
                "layer; check r and target_modules).")
    return None


def _lora_cases() -> list[Case]:
    out = []
    for j, (r, hidden, layers) in enumerate([(4, 32, 2), (2, 16, 1), (8, 32, 3)]):
        def args(j=j, hidden=hidden, layers=layers, r=r):
            return (tiny_bert_model(SEED + j, hidden, layers), r)
        a = args()
        out.append(Case(f"tiny BERT: hidden {hidden}, {layers} layers, r={r}", a,
                        lambda a=a: lora_parameter_count(a[0], a[1])))
    return out


register(Exercise(
    name="ex04_lora_model",
    title="A LoRA configuration that trains only the adapter weights",
    cases=_lora_cases,
    compare=compare_lora,
    show=lambda v: (f"{v:,} trainable adapter parameters" if isinstance(v, int) else
                    f"model with {sum(p.numel() for p in v.parameters() if p.requires_grad):,} trainable parameters"
                    if hasattr(v, "parameters") else repr(v)),
    same=lambda a, b: False,
    hint="from peft import LoraConfig, get_peft_model; config = LoraConfig(r=r, lora_alpha=2 * r, "
         "target_modules=['query', 'value']); return get_peft_model(model, config). get_peft_model freezes "
         "every base weight; do not set requires_grad=True on anything else.",
))


# ---------------------------------------------------------------------------- exercise 4: LoRA settings that learn
LORA_KEYS = ("r", "lora_alpha", "target_modules", "lr")
LORA_AUC_BAR = 0.7            # validation AUC after the short run (chance: 0.5)
_COLOURS = ["red", "blue", "green", "yellow"]
_OBJECTS = ["shoe", "hat", "scarf", "mug", "lamp", "sofa", "bag", "kite"]


def reference_lora_settings(n_steps: int) -> dict[str, Any]:
    """LoRA settings that make the tiny cross-encoder learn the colour task within ``n_steps`` steps."""
    return {"r": 8, "lora_alpha": 16, "target_modules": ["query", "value"], "lr": 1e-2}


def colour_pairs(n_users: int, seed: int) -> Any:
    """The synthetic pair task: red and blue lovers took every item of their colour ("<colour> <object>").

    A positive pair is (history, an item of the history's colour); the training loop samples negatives
    of any other colour. A tiny random BERT learns it in a few dozen steps with a LoRA-sized learning rate.
    """
    import pandas as pd

    from coursekit.finetune import make_pairs
    from coursekit.interactions import Interactions

    rng = np.random.default_rng(seed)
    items = [(c, o) for c in _COLOURS for o in _OBJECTS]          # item id = index + 1
    texts = {k + 1: f"{c} {o}" for k, (c, o) in enumerate(items)}
    rows = []
    for u in range(1, n_users + 1):
        colour = u % 2                                             # red or blue
        for t, i in enumerate(colour * len(_OBJECTS) + 1 + rng.permutation(len(_OBJECTS))):
            rows.append((u, int(i), 10 * t + 1, 5.0))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "rating"])
    inter = Interactions.from_frame(frame, items=np.arange(1, len(items) + 1))
    return make_pairs(inter, None, texts, history_size=2)


class _LoraRun:
    """What a LoRA run must reach (the bar) on the seeded tiny cross-encoder; trains the student's settings."""

    def __init__(self, n_steps: int, seed: int):
        self.n_steps, self.seed, self.bar = n_steps, seed, LORA_AUC_BAR

    def __repr__(self) -> str:
        return (f"validation AUC >= {self.bar} after {self.n_steps} LoRA steps (chance is 0.5), with only the "
                "adapters and the classification head trainable")

    def train(self, settings: dict[str, Any]) -> tuple[float, list[str]]:
        """Train a fresh tiny cross-encoder with ``settings``; returns (validation AUC, trainable tensor names)."""
        import torch

        from coursekit.finetune import train_cross_encoder
        from coursekit.text.cross_encoder import CrossEncoder

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            ce = CrossEncoder.tiny(seed=self.seed)
            res = train_cross_encoder(
                ce, colour_pairs(24, self.seed), colour_pairs(12, self.seed + 100), lora=True,
                lora_r=settings["r"], lora_alpha=settings["lora_alpha"], lora_dropout=0.0,
                lora_target_modules=list(settings["target_modules"]), lr=settings["lr"], merge_lora=False,
                epochs=100, max_steps=self.n_steps, batch_size=16, n_neg=1, eval_every=self.n_steps, restore_best=False,
                seed=self.seed, progress=False)
        finally:
            torch.set_num_threads(threads)
        trainable = [n for n, p in ce.model.named_parameters() if p.requires_grad]
        return float(res.best_value), trainable


_MODULE_NAMES = "query, key, value (attention), dense (attention output and feed-forward)"


def compare_lora_settings(expected: _LoraRun, got: Any) -> str | None:
    """``None`` when the settings train the tiny cross-encoder above the AUC bar with adapters (+ head) only."""
    if not isinstance(got, dict):
        return f"return a dict with the keys {', '.join(LORA_KEYS)}; got {type(got).__name__}."
    missing = [k for k in LORA_KEYS if k not in got]
    if missing:
        return f"the dict lacks the key(s) {', '.join(missing)} (it needs {', '.join(LORA_KEYS)})."
    r, alpha, targets, lr = (got[k] for k in LORA_KEYS)
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 1 <= r <= 64:
        return f"r (the adapters' rank) must be an int between 1 and 64, got {r!r}."
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)) or not alpha > 0:
        return f"lora_alpha must be a positive number, got {alpha!r}."
    if isinstance(targets, str) or not isinstance(targets, (list, tuple)) or not targets \
            or not all(isinstance(t, str) for t in targets):
        return f"target_modules must be a list of module names, e.g. ['query', 'value'], got {targets!r}."
    unknown = [t for t in targets if t not in ("query", "key", "value", "dense")]
    if unknown:
        return (f"the tiny BERT has no module named {unknown[0]!r} (names like 'q_proj' are other architectures'); "
                f"its linear layers are {_MODULE_NAMES}.")
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not 0 < lr <= 1:
        return f"lr must be a learning rate in (0, 1], got {lr!r}."
    auc, trainable = expected.train(got)
    others = [n for n in trainable if "lora_" not in n and "modules_to_save" not in n]
    if others:
        return f"{len(others)} trainable tensors are neither adapters nor the head, e.g. {others[0]}."
    if not auc >= expected.bar:
        slow = (" A full fine-tuning rate (around 5e-5) barely moves adapters that start at B = 0 and a random "
                "head in so few steps: LoRA takes rates 10-100x larger (1e-3 to 1e-2).") if lr < 1e-3 else ""
        return (f"after {expected.n_steps} steps the validation AUC is {auc:.3f}, below the bar {expected.bar} "
                f"(chance is 0.5): the model did not learn.{slow}")
    return None


def _lora_full_ft_rate(n_steps):
    return {"r": 8, "lora_alpha": 16, "target_modules": ["query", "value"], "lr": 5e-5}


def _lora_llama_names(n_steps):
    return {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "lr": 1e-2}


register(Exercise(
    name="ex04_lora_settings",
    title="LoRA settings that make a cross-encoder learn in a few dozen steps",
    cases=lambda: [Case(f"tiny cross-encoder, colour task, {n} steps, seed {s}", (n,),
                        lambda n=n, s=s: _LoraRun(n, s)) for n, s in ((40, 0), (40, 1))],
    compare=compare_lora_settings,
    same=lambda a, b: isinstance(a, dict) and isinstance(b, dict) and all(
        k in b and (list(a[k]) == list(b[k]) if k == "target_modules" else a[k] == b[k]) for k in LORA_KEYS),
    show=lambda v: repr(v),
    hint="Adapters on the attention projections (target_modules=['query', 'value']), a small rank (r=4..16) with "
         "lora_alpha = 2r, and a learning rate much larger than for full fine-tuning (1e-3..1e-2): the adapters "
         "start at B = 0 and the head is random.",
    mistakes=[
        Mistake(_lora_full_ft_rate, "5e-5 is a full fine-tuning rate: with LoRA only a few thousand weights move, "
                                    "from zero; use 1e-3 to 1e-2."),
        Mistake(_lora_llama_names, "'q_proj'/'v_proj' are LLaMA's names; in BERT the projections are called "
                                   "'query', 'key' and 'value'."),
    ],
    points=1,
    time_limit=30,
))
