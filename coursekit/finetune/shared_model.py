r"""The cross-encoder lesson 04 fine-tunes and later lessons reuse: load its checkpoint, or train one the same way.

Lesson 04 saves its fine-tuned cross-encoder under
``coursekit.datasets.checkpoint_dir("04_cross_encoder_<dataset>[_smoke]")`` with an ``info`` dict (data set,
history format, validation AUC). Lessons 07 (explanations) and 08 (the whole system) call
:func:`lesson04_cross_encoder`: it loads that checkpoint when it exists and was trained on the same data set's
item summaries, and otherwise fine-tunes one with lesson 04's recipe (MiniLM's lowest 3 layers, the head on the
candidate's mean token vector, learning rates :math:`10^{-4}` for the encoder and :math:`3\cdot 10^{-3}` for the
head, binary cross-entropy against 3 random negatives per positive, early stopping on the AUC of the last 10% of
each user's training events). In smoke mode the fallback is :meth:`CrossEncoder.tiny` (randomly initialised, a
few steps), so the code path runs in seconds.

.. code-block:: python

    ce, info, source = lesson04_cross_encoder(data, train, "shop", smoke=False, seed=0)
    source          # "lesson 04" when the checkpoint was found, else "this lesson"
    info["valid_auc"]
"""
from __future__ import annotations

from typing import Any

from coursekit._validation import CourseKitError, check_positive_int
from coursekit.datasets import Dataset, checkpoint_dir
from coursekit.interactions import Interactions

__all__ = ["lesson04_checkpoint_name", "lesson04_cross_encoder"]

#: The history format lesson 04's cross-encoder is trained with (the fallback uses the same).
HISTORY_SIZE, HISTORY_WORDS = 20, 25


def lesson04_checkpoint_name(dataset: str, smoke: bool) -> str:
    """The checkpoint folder name lesson 04 saves under (``checkpoint_dir`` adds the data home).

    >>> lesson04_checkpoint_name("shop", smoke=True)
    '04_cross_encoder_shop_smoke'
    """
    if not isinstance(dataset, str) or not dataset:
        raise CourseKitError(f"dataset must be a data set name such as 'shop', got {dataset!r}.")
    return f"04_cross_encoder_{dataset}" + ("_smoke" if smoke else "")


def lesson04_cross_encoder(data: Dataset, train: Interactions, dataset: str, *, smoke: bool, seed: int = 0,
                           steps: int = 500, time_budget_s: float = 1200.0,
                           fit_pairs: int = 20_000) -> tuple[Any, dict[str, Any], str]:
    """Lesson 04's fine-tuned cross-encoder, or one fine-tuned here with its recipe when none was saved.

    Parameters
    ----------
    data : Dataset
        The data set (its item summaries are the candidate texts).
    train : Interactions
        Training events of the calling lesson; the fallback fine-tunes on them (never on test events).
    dataset : str
        The data set's name, part of the checkpoint's folder name; a checkpoint of another data set is refused.
    smoke : bool
        Smoke mode: the smoke checkpoint, or a tiny randomly initialised model trained a few steps.
    steps, time_budget_s, fit_pairs : int, float, int
        The fallback's training steps, its safety cap in seconds and its number of training positives.

    Returns
    -------
    (CrossEncoder, dict, str)
        The model (on the CPU), its ``info`` (``history_size``, ``max_history_words``, ``valid_auc`` ...)
        and where it came from: ``"lesson 04"`` or ``"this lesson"``.
    """
    from coursekit.finetune.loop import train_cross_encoder
    from coursekit.finetune.pairs import make_pairs
    from coursekit.splits import user_temporal_split
    from coursekit.text import item_summaries
    from coursekit.text.cross_encoder import CrossEncoder

    steps = check_positive_int(steps, "steps")
    folder = checkpoint_dir(lesson04_checkpoint_name(dataset, smoke))
    if (folder / "cross_encoder.json").exists():
        ce = CrossEncoder.load(folder, device="cpu")
        info = dict(ce.info)
        if info.get("item_text") != "summaries" or info.get("dataset", dataset) != dataset:
            raise CourseKitError(f"the cross-encoder in {folder} was not trained on {dataset!r} item summaries "
                                 f"(its info: {info}); re-run lesson 04 with DATASET={dataset!r} "
                                 "or delete that folder.")
        return ce, info, "lesson 04"
    info: dict[str, Any] = {"history_size": HISTORY_SIZE, "max_history_words": HISTORY_WORDS,
                            "item_text": "summaries", "dataset": dataset, "smoke": bool(smoke)}
    summaries = item_summaries(data)
    inner = user_temporal_split(train, test_frac=0.1)[:2]   # early stopping on the last 10% of the training part
    kw = dict(history_size=HISTORY_SIZE, max_history_words=HISTORY_WORDS, seed=seed)
    train_pairs = make_pairs(inner[0], None, summaries, max_pairs=fit_pairs, **kw)
    stop_pairs = make_pairs(inner[0], inner[1], summaries, max_pairs=300, **kw)
    ce = (CrossEncoder.tiny(seed=seed, max_length=64, pooling="candidate") if smoke else
          CrossEncoder.from_pretrained(max_length=64, num_layers=3, pooling="candidate", device="cpu"))
    fit = train_cross_encoder(ce, train_pairs, stop_pairs, n_neg=3, batch_size=16, max_steps=steps, lr=1e-4,
                              head_lr=3e-3, eval_every=min(100, steps), patience=4, max_valid_pairs=300,
                              time_budget_s=time_budget_s, seed=seed, progress=False)
    info.update(valid_auc=float(fit.history["valid_auc"].max()), steps=int(fit.n_steps),
                train_seconds=float(fit.train_seconds), stopped_by=str(fit.stopped_by))
    ce.info = info
    return ce, info, "this lesson"
