"""`descent` command line: train the default digits model on CPython, run benchmarks."""
import argparse
import sys
import time



def train_digits(model="mlp", epochs=None, seed=0, out=None):
    """Train the digits app's default recipe headless, with a progress bar; returns held-out accuracy."""
    from tqdm import tqdm

    import engine
    from playground.apps.digits.app import DigitsApp, describe

    app = DigitsApp(model_kind=model, seed=seed, **({"epochs": epochs} if epochs else {}))
    tr = app.trainer
    print(f"Training {model} {describe(app.model)} ({app.model.num_parameters():,} parameters) on "
          f"{app.n_train:,} MNIST digits: {app.epochs} epochs, {app.optimizer} lr {app.lr} "
          f"({app.schedule}), batch {app.batch_size}, augmentation {'on' if app.augment else 'off'}; "
          f"matmul backend: {engine.backend.status()['backend']}")
    t0 = time.perf_counter()
    with tqdm(total=app._max_steps(), unit="batch", dynamic_ncols=True) as bar:
        while not tr.finished:
            tr.run_steps(25)
            if tr.error:
                raise SystemExit(tr.error)
            bar.update(tr.step - bar.n)
            bar.set_postfix(epoch=f"{app._epoch_float():.1f}", held_out=f"{app.test_accuracy:.2%}")
    acc = app._evaluate()
    secs = time.perf_counter() - t0
    print(f"Held-out accuracy: {acc:.2%} on {len(app.yte):,} digits "
          f"({app.epochs * app.n_train / secs:,.0f} samples/s, {secs:.0f} s)")
    if out:
        from engine import io
        print(f"Saved the model to {out} ({io.save(app.model, out):,} bytes)")
    return acc


def main(argv=None):
    p = argparse.ArgumentParser(prog="descent", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a model on CPython with a progress bar")
    t.add_argument("what", choices=["digits"])
    t.add_argument("--model", choices=["softmax", "mlp", "cnn"], default="mlp")
    t.add_argument("--epochs", type=int, help="default: the recipe's (20)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", help="save the trained model here (.npz)")
    from playground import sitebuild
    sitebuild.add_subcommands(sub)
    a = p.parse_args(argv)
    if a.cmd in sitebuild.COMMANDS:
        return sitebuild.run_command(a)
    if a.cmd == "train":
        try:
            train_digits(a.model, a.epochs, a.seed, a.out)
        except FileNotFoundError as e:
            sys.exit(str(e))


if __name__ == "__main__":
    main()
