"""`descent` command line: train the default digits model on CPython; build, serve the site."""
import argparse
import sys
import time


def train_digits(model="mlp", epochs=None, seed=0, out=None):
    """Train the digits app's default recipe headless, with a progress bar; returns held-out accuracy."""
    from tqdm import tqdm

    import engine
    from playground.apps.digits.app import DigitsApp
    from playground.apps.digits.run import describe

    app = DigitsApp(model_kind=model, seed=seed, **({"epochs": epochs} if epochs else {}))
    run, tr = app.run, app.trainer
    print(f"Training {model} {describe(run.model)} ({run.model.num_parameters():,} parameters) on "
          f"{run.n_train:,} MNIST digits: {run.epochs} epochs, {run.optimizer} lr {run.lr} "
          f"({run.schedule}), batch {run.batch_size}, augmentation {'on' if run.augment else 'off'}; "
          f"matmul backend: {engine.backend.status()['backend']}")
    t0 = time.perf_counter()
    with tqdm(total=tr.step + run.steps_left(), unit="batch", dynamic_ncols=True) as bar:
        while not tr.finished:
            tr.run_steps(25)
            if tr.error:
                raise SystemExit(tr.error)
            bar.update(tr.step - bar.n)
            bar.set_postfix(epoch=f"{run.epoch:.1f}", held_out=f"{run.test_accuracy:.2%}")
    acc = app.evaluate()
    secs = time.perf_counter() - t0
    print(f"Held-out accuracy: {acc:.2%} on {len(run.yte):,} digits "
          f"({run.epochs * run.n_train / secs:,.0f} samples/s, {secs:.0f} s)")
    if out:
        from engine import io
        print(f"Saved the model to {out} ({io.save(run.model, out):,} bytes)")
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
    b = sub.add_parser("build-site", help="build the static site (Pyodide in the browser)")
    b.add_argument("--out", default="_site", help="output folder (default _site)")
    b.add_argument("--offline-dist", metavar="PATH",
                   help="a full Pyodide 0.29.3 distribution: also write <out>-offline/ and its .zip")
    b.add_argument("--cache", help="where downloaded wheels are kept (default ~/.cache/descent-site)")
    s = sub.add_parser("serve-site", help="serve a built site on localhost")
    s.add_argument("folder", nargs="?", default="_site")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--open", action="store_true", help="open a browser")
    l = sub.add_parser("serve-local", help="serve every lesson and app with Panel on CPython")
    l.add_argument("--port", type=int, default=5006)
    l.add_argument("--show", action="store_true", help="open a browser")
    a = p.parse_args(argv)
    if a.cmd == "train":
        try:
            train_digits(a.model, a.epochs, a.seed, a.out)
        except FileNotFoundError as e:
            sys.exit(str(e))
        return None
    from playground import sitebuild
    try:
        if a.cmd == "build-site":
            sitebuild.build_site(a.out, a.offline_dist, a.cache)
        elif a.cmd == "serve-site":
            sitebuild.serve_site(a.folder, a.host, a.port, a.open)
        elif a.cmd == "serve-local":
            return sitebuild.serve_local(a.port, a.show)
    except sitebuild.BuildError as e:
        sys.exit(f"descent {a.cmd}: {e}")
    return None


if __name__ == "__main__":
    main()
