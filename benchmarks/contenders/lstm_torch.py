"""Workload F in PyTorch eager, as its word-language-model example writes it: ``nn.Embedding``,
``nn.LSTM(batch_first=True)``, ``nn.Linear`` per step, ``CrossEntropyLoss`` on the logits
flattened to ``(m T, V)``, ``torch.optim.Adam``.

The shared start is copied in PyTorch's layout: ``weight_ih (512, 32)`` and ``weight_hh
(512, 128)`` are the start's kernels transposed (PyTorch's gate order i, f, g, o is
Keras's), ``bias_ih`` the start's bias and ``bias_hh`` zero; ``Linear`` weights ``(out, in)``.
Batches come from an index shuffle (``torch.randperm``); default threads.
"""

import numpy as np

from benchmarks import common, lstm_lm


def model_class(torch, nn):
    class CharLSTM(nn.Module):
        def __init__(self, vocab_size):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, lstm_lm.EMBED)
            self.lstm = nn.LSTM(lstm_lm.EMBED, lstm_lm.UNITS, batch_first=True)
            self.dense = nn.Linear(lstm_lm.UNITS, vocab_size)

        def forward(self, ids):
            out, _ = self.lstm(self.embed(ids))
            return self.dense(out)

    return CharLSTM


def load_start(torch, model, start: dict) -> None:
    values = {
        "embed.weight": start["embedding"],
        "lstm.weight_ih_l0": start["kernel"].T,
        "lstm.weight_hh_l0": start["recurrent_kernel"].T,
        "lstm.bias_ih_l0": start["bias"],
        "lstm.bias_hh_l0": np.zeros_like(start["bias"]),
        "dense.weight": start["dense_W"].T,
        "dense.bias": start["dense_b"],
    }
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(np.ascontiguousarray(values[name])))


def train(torch, nn, X, Y, V: int, epochs: int, seed: int, device: str = "cpu"):
    """``(model, epoch_times, total_s, last_loss)``: Adam from the shared start over
    ``torch.randperm`` shuffles in batches of ``common.BATCH`` (ids as NumPy int arrays)."""
    Xt = torch.as_tensor(X, device=device).long()
    Yt = torch.as_tensor(Y, device=device).long()
    torch.manual_seed(seed)
    t0 = common.now()
    model = model_class(torch, nn)(V).to(device)
    load_start(torch, model, lstm_lm.start(seed, V))
    a = lstm_lm.ADAM
    opt = torch.optim.Adam(
        model.parameters(), lr=a["learning_rate"], betas=(a["b1"], a["b2"]), eps=a["eps"]
    )
    loss_fn = nn.CrossEntropyLoss()
    epoch_times = []
    for _ in range(epochs):
        te = common.now()
        for idx in common.batches(torch.randperm(len(Xt), device=device)):
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]).reshape(-1, V), Yt[idx].reshape(-1))
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        epoch_times.append(common.now() - te)
    return model, epoch_times, common.now() - t0, float(loss.item())


def logits(torch, model, X, device: str = "cpu") -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(X, device=device).long()).cpu().numpy()


def main():
    args = common.parse_args()
    try:
        import torch
        from torch import nn
    except ImportError as e:
        common.missing("torch", e)
    X, Y, X_test, Y_test, V = lstm_lm.windows(args)
    model, epoch_times, total, loss = train(
        torch, nn, X, Y, V, lstm_lm.EPOCHS[args.size], args.seed
    )
    test_loss, acc = lstm_lm.cross_entropy_and_accuracy(logits(torch, model, X_test), Y_test)
    common.emit(
        common.epoch_result(
            total,
            epoch_times,
            0.0,
            acc,
            threads=torch.get_num_threads(),
            test_loss=test_loss,
            train_loss=loss,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
