"""The driver `twoway conform --python FILE.py:NAME` runs: one interpreter for every case.

It imports FILE.py, takes NAME (a class built once with the --init keyword arguments, or a function
called with them) and calls it on each case of the folder twoway wrote (see `twoway conform --help`):
  losses:  NAME(logits, targets) -> a scalar tensor; logits a torch tensor of the case's dtype with
           requires_grad, targets a float tensor of 1 / 0 / -1; the gradient comes from autograd.
  metrics: NAME(scores, targets) -> a float in percent (0-100), on float64 numpy arrays; NaN or None
           when no line has a positive.
It writes NAME.loss.npy and NAME.grad.npy (or NAME.value.npy) in float64, or NAME.error.txt when the case
raised. It exits 2 when FILE.py cannot be imported or NAME cannot be built, naming the cause on stderr.

The Python package's `twoway.testing` calls the same `answer_loss` / `answer_metric` in process (this
file ships in its native module as `DRIVER_SOURCE`), so both call an implementation the same way.
"""

import argparse
import functools
import importlib.util
import inspect
import json
import os
import sys
import traceback


def fail(message):
    sys.stderr.write("twoway conform: " + message + "\n")
    sys.exit(2)


def load(path, name, init):
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("twoway_conform_subject", path)
    if spec is None or spec.loader is None:
        fail(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        traceback.print_exc()
        fail(f"{path}: importing it raised (traceback above)")
    if not hasattr(module, name):
        names = sorted(n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n)))
        fail(f"{path} has no `{name}`; it defines: {', '.join(names) or 'nothing callable'}")
    obj = getattr(module, name)
    if inspect.isclass(obj):
        try:
            return obj(**init)
        except BaseException:
            traceback.print_exc()
            fail(f"{path}:{name}({json.dumps(init)}) raised (traceback above); --init gives its keyword arguments")
    if not callable(obj):
        fail(f"{path}:{name} is not callable")
    # A function takes the --init keyword arguments on every call (e.g. its temperatures): check once that
    # it can be called as NAME(inputs, targets, **init), as a class's constructor is checked by building it.
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        signature = None  # a builtin without a signature: its first call will tell
    if signature is not None:
        try:
            signature.bind(None, None, **init)
        except TypeError as e:
            fail(f"{path}:{name} cannot be called as {name}(inputs, targets, **{json.dumps(init)}): {e}; "
                 "--init gives its keyword arguments")
    return functools.partial(obj, **init) if init else obj


def answer_loss(fn, logits, targets, dtype, np, torch):
    """Calls a loss on one case: float64 numpy logits and targets, given to `fn` as torch tensors of
    `dtype` ("f64", "f32", "f16" or "bf16"; the logits with requires_grad). Returns the value and the
    gradient as float64 (a float and a numpy array)."""
    dtypes = {"f64": torch.float64, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
    x = torch.from_numpy(logits).to(dtypes[dtype]).requires_grad_(True)
    y = torch.from_numpy(targets).to(dtypes[dtype])
    loss = fn(x, y)
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise TypeError(f"returned {type(loss).__name__} {getattr(loss, 'shape', '')}, not a scalar tensor")
    if not loss.requires_grad:
        raise TypeError("the loss is not connected to the logits (no autograd graph: detached, or computed in numpy?)")
    (grad,) = torch.autograd.grad(loss.reshape(()), x, allow_unused=True)
    grad = torch.zeros_like(x) if grad is None else grad
    return loss.detach().double().item(), grad.detach().double().numpy()


def answer_metric(fn, scores, targets):
    """Calls a metric on one case (float64 numpy arrays); its value as a float (NaN for None)."""
    value = fn(scores, targets)
    return float("nan") if value is None else float(value)


def describe_exception(e):
    """One line: the exception and where it was raised."""
    last = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__}: {e} (at {os.path.basename(last.filename)}:{last.lineno})"


def run_loss(fn, folder, name, params, np, torch):
    x = np.load(os.path.join(folder, name + ".logits.npy"))
    y = np.load(os.path.join(folder, name + ".targets.npy"))
    value, grad = answer_loss(fn, x, y, params["dtype"], np, torch)
    np.save(os.path.join(folder, name + ".loss.npy"), np.array(value))
    np.save(os.path.join(folder, name + ".grad.npy"), grad)


def run_metric(fn, folder, name, np):
    s = np.load(os.path.join(folder, name + ".scores.npy"))
    y = np.load(os.path.join(folder, name + ".targets.npy"))
    value = answer_metric(fn, s, y)
    np.save(os.path.join(folder, name + ".value.npy"), np.array(value, dtype=np.float64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--init", default=None)
    ap.add_argument("folder")
    a = ap.parse_args()
    try:
        init = json.loads(a.init) if a.init else {}
    except json.JSONDecodeError as e:
        fail(f"--init is not JSON: {e}")
    if not isinstance(init, dict):
        fail("--init must be a JSON object of keyword arguments, e.g. '{\"tp\": 4.0}'")
    try:
        import numpy as np
    except ImportError:
        fail(f"numpy is missing from {sys.executable}; --python-exe (or $TWOWAY_PYTHON) names another interpreter")
    with open(os.path.join(a.folder, "cases.json")) as f:
        cases = json.load(f)
    torch = None
    if any("loss" in c["params"] for c in cases):
        try:
            import torch
        except ImportError:
            fail(f"torch is missing from {sys.executable}; a loss is called with torch tensors")
    fn = load(a.impl, a.name, init)
    for case in cases:
        name, params = case["name"], case["params"]
        try:
            if "loss" in params:
                run_loss(fn, a.folder, name, params, np, torch)
            else:
                run_metric(fn, a.folder, name, np)
        except Exception as e:
            with open(os.path.join(a.folder, name + ".error.txt"), "w") as f:
                f.write(describe_exception(e))


if __name__ == "__main__":
    main()
