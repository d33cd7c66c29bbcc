"""A multilayer perceptron classifying scikit-learn's 8x8 handwritten digits.

The data is scikit-learn's bundled ``load_digits`` (1797 images, no download), split 75/25,
stratified. The network, 64-128-128-10 with ReLU and dropout, is built from ``mg.nn`` and
trained on minibatches of 32 with ``mg.optim.Adam`` and a cosine learning-rate schedule; the full
run reaches at least 97% test accuracy. Loss and accuracy curves go to ``mlp_digits.png``.

    python examples/mlp_digits.py                        # on the CPU (about a minute)
    python examples/mlp_digits.py --device cuda          # on a CUDA GPU (needs CuPy)
    python examples/mlp_digits.py --device strict:device1 --quick

Needs scikit-learn and matplotlib: ``python -m pip install -e '.[examples]'``.
"""

from __future__ import annotations

import multigrad as mg
from multigrad import nn
from _classify import load_digits_split, plot_curves, train_classifier
from _common import example_parser, output_dir

SCRIPT = "mlp_digits.py"


def make_model(device, seed: int) -> nn.Module:
    """64-128-128-10, ReLU, dropout 0.2 after each hidden layer; float32 parameters."""
    return nn.Sequential(
        nn.Linear(64, 128, device=device, seed=seed), nn.ReLU(),
        nn.Dropout(0.2, device=device, seed=seed + 1),
        nn.Linear(128, 128, device=device, seed=seed + 2), nn.ReLU(),
        nn.Dropout(0.2, device=device, seed=seed + 3),
        nn.Linear(128, 10, device=device, seed=seed + 4))


def main(argv=None):
    parser = example_parser(__doc__, "mlp_digits")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs
    device = mg.get_device(args.device)
    data = load_digits_split(device, mg.float32, SCRIPT)
    print(f"MLP on the digits ({data[0].shape[0]} training, {data[2].shape[0]} test images) "
          f"on {args.device}, {epochs} epochs")
    model = make_model(device, args.seed)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = mg.optim.CosineAnnealingLR(optimizer, T_max=epochs)
    history = train_classifier(model, optimizer, scheduler, data, epochs, batch_size=32,
                               seed=args.seed)
    path = output_dir(args.out) / "mlp_digits.png"
    plot_curves(history, "MLP", path, SCRIPT)
    print(f"curves saved to {path}")
    print(f"test accuracy {history['test_acc'][-1]:.4f}")
    return history


if __name__ == "__main__":
    main()
