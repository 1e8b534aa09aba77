"""Fine-tune a base encoder to label paragraphs, from one config file.

    python -m training.train --config configs/m3e-small.yaml
    paratheme train --config configs/m3e-small.yaml          # the same
    torchrun --nproc_per_node 2 -m training.train --config configs/smoke.yaml

The config holds the fields of ``ModelArguments``, ``DataArguments`` and transformers'
``TrainingArguments`` side by side. The best checkpoint on dev macro-F1 is exported to
``export_dir`` as an fp16 safetensors Hugging Face folder with the label maps in its config.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger("training.train")


@dataclass
class ModelArguments:
    base_model: str = field(default="m3e-small", metadata={"help": "m3e-small, or a path to a Hugging Face folder"})
    max_length: int = field(default=256, metadata={"help": "tokens per block in training; longer blocks are truncated"})


@dataclass
class DataArguments:
    data_dir: str = field(default="data", metadata={"help": "folder with labels/, written/ and splits.yaml"})
    corpora: str | None = field(default=None, metadata={"help": "corpora folder (default ../shared/corpora)"})
    class_weighting: str = field(default="sqrt", metadata={"help": "none, sqrt or balanced: loss weight per label from train counts"})
    written: list[str] | None = field(default=None, metadata={"help": "files of data/written/ to train on, by name without .tsv (default: all)"})
    dedupe: bool = field(default=True, metadata={"help": "drop repeated (text, label) pairs from train (portal chrome repeats across pages)"})
    max_train_examples: int | None = field(default=None, metadata={"help": "keep only this many train examples (smoke runs)"})
    max_eval_examples: int | None = field(default=None, metadata={"help": "keep only this many dev examples (smoke runs)"})
    export_dir: str | None = field(default=None, metadata={"help": "where the best model is written in fp16 (e.g. model)"})
    early_stopping_patience: int = field(default=3, metadata={"help": "evaluations without dev macro-F1 improvement before stopping"})

    def __post_init__(self):
        if self.class_weighting not in ("none", "sqrt", "balanced"):
            raise ValueError(f"class_weighting must be none, sqrt or balanced, not {self.class_weighting!r}")


def keep_written(train, names: list[str]):
    """``train`` with only the written files named (corpus examples all stay)."""
    present = {doc for source, doc in zip(train["source"], train["doc_id"]) if source == "written"}
    unknown = set(names) - present
    if unknown:
        raise SystemExit(f"written: no file(s) {sorted(unknown)} in data/written/ (there are {sorted(present)})")
    return train.filter(lambda row: row["source"] != "written" or row["doc_id"] in names)


def parse_config(argv: list[str]):
    import argparse

    from transformers import HfArgumentParser, TrainingArguments

    cli = argparse.ArgumentParser(prog="python -m training.train")
    cli.add_argument("--config", required=True, type=Path, help="YAML file with the arguments")
    args = cli.parse_args(argv)
    if not args.config.is_file():
        raise SystemExit(f"config file {args.config} not found")
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    return parser.parse_yaml_file(str(args.config))


def class_weights(labels: list[int], n_labels: int, scheme: str) -> np.ndarray | None:
    """Per-label loss weights, mean 1 over labels present; ``none`` gives None."""
    if scheme == "none":
        return None
    counts = np.bincount(labels, minlength=n_labels).astype(float)
    counts[counts == 0] = counts[counts > 0].min()
    weights = counts.sum() / counts
    if scheme == "sqrt":
        weights = np.sqrt(weights)
    return weights / weights.mean()


def macro_f1_metrics(eval_pred) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    from paratheme.labels import LABELS

    logits, gold = eval_pred
    predicted = np.asarray(logits).argmax(axis=-1)
    # Labels absent from both gold and predictions (a small dev split may lack one) are left
    # out of the mean rather than counted as zero.
    present = sorted(set(gold.tolist()) | set(predicted.tolist()))
    per_label = f1_score(gold, predicted, labels=present, average=None, zero_division=0)
    metrics = {"macro_f1": float(per_label.mean()), "accuracy": float(accuracy_score(gold, predicted))}
    metrics.update({f"f1_{LABELS[i]}": float(f) for i, f in zip(present, per_label)})
    return metrics


def hardware(training_args) -> str:
    """What the run trained on, for the training record: the time means little without it."""
    import os

    import torch

    device = training_args.device
    if device.type == "cuda":
        return f"{training_args.world_size} × {torch.cuda.get_device_name(device)}"
    return f"{training_args.world_size} process(es) on {os.cpu_count()} CPU cores"


def main(argv: list[str] | None = None) -> int:
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              EarlyStoppingCallback, Trainer, set_seed)
    from transformers.trainer_utils import get_last_checkpoint

    from paratheme.data import load_splits
    from paratheme.labels import LABELS, id2label, label2id
    from training.base_models import resolve
    from training.export import export_model

    model_args, data_args, training_args = parse_config(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    set_seed(training_args.seed)

    splits = load_splits(data_args.data_dir, data_args.corpora)
    train, dev = splits["train"], splits["dev"]
    if data_args.written is not None:
        train = keep_written(train, data_args.written)
    if data_args.dedupe:
        seen, keep = set(), []
        for i, (text, label) in enumerate(zip(train["text"], train["label"])):
            if (text, label) not in seen:
                seen.add((text, label))
                keep.append(i)
        train = train.select(keep)
    if data_args.max_train_examples:
        train = train.shuffle(seed=training_args.seed).select(range(min(len(train), data_args.max_train_examples)))
    if data_args.max_eval_examples:
        dev = dev.shuffle(seed=training_args.seed).select(range(min(len(dev), data_args.max_eval_examples)))
    logger.info("train %d examples %s; dev %d", len(train), dict(Counter(LABELS[i] for i in train["label"])), len(dev))
    logger.info("world size %d (process %d), device %s", training_args.world_size, training_args.process_index,
                training_args.device)

    base = resolve(model_args.base_model)
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=id2label(), label2id=label2id(), local_files_only=True,
    )

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=model_args.max_length)

    columns = [c for c in train.column_names if c != "label"]
    train = train.map(tokenize, batched=True, remove_columns=columns)
    dev = dev.map(tokenize, batched=True, remove_columns=columns)

    weights = class_weights(train["label"], len(LABELS), data_args.class_weighting)
    loss_fn = torch.nn.CrossEntropyLoss(weight=None if weights is None else torch.tensor(weights, dtype=torch.float32))
    logger.info("class weights: %s", None if weights is None else dict(zip(LABELS, np.round(weights, 3).tolist())))

    def compute_loss(outputs, labels, num_items_in_batch=None):
        return loss_fn.to(outputs.logits.device)(outputs.logits.float(), labels)

    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train,
        eval_dataset=dev,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=macro_f1_metrics,
        compute_loss_func=compute_loss,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=data_args.early_stopping_patience)],
    )
    last = get_last_checkpoint(training_args.output_dir) if Path(training_args.output_dir).is_dir() else None
    if last:
        logger.info("resuming from %s", last)
    train_result = trainer.train(resume_from_checkpoint=last)
    metrics = trainer.evaluate()
    trainer.save_metrics("dev", metrics)

    if data_args.export_dir and trainer.is_world_process_zero():
        export_model(trainer.model, tokenizer, Path(data_args.export_dir), {
            "dev": metrics, "train_seconds": train_result.metrics.get("train_runtime"),
            "hardware": hardware(training_args), "config": {
            "base_model": model_args.base_model, "max_length": model_args.max_length,
            "class_weighting": data_args.class_weighting, "train_examples": len(train),
            "learning_rate": training_args.learning_rate, "epochs": training_args.num_train_epochs,
            "seed": training_args.seed}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
