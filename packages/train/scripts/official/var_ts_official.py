"""Run the official VAR trainer (FoundationVision/VAR train.py) on a model exported by var.ts.

The official train.py builds the 256-px ImageNet setting it was written for: `build_vae_var`
hard-codes the tokenizer (V=4096, Cvae=32, ch=160, 3 channels, ch_mult 1,1,2,2,4), the VAR
width (64 x depth) and `build_dataset` 1000 classes of RGB images, and it loads (or downloads)
`vae_ch160v4096z32.pth` from the working directory. This launcher runs the same train.py with
the model of an official model directory written by var.ts (`var convert <run> <dir>`:
config.json + vae.pth + var.pth [+ ar-ckpt-last.pth]) instead:

- `models.build_vae_var` builds the official VQVAE / VAR classes from config.json (the
  Encoder/Decoder from its `ddconfig`, the VAR from its `VAR` section) and checks that
  `--depth`, `--pn`, `--saln` and `--anorm` agree with it;
- `build_dataset` keeps train.py's augmentations and folders (`<data_path>/train/<class>/*`,
  `<data_path>/val/<class>/*`) but reports the model's class count, and reads images as
  grayscale when the tokenizer has one input channel;
- the tokenizer weights train.py loads under the name `vae_ch160v4096z32.pth` are the
  directory's `vae.pth` (a symlink of that name is made in the working directory; an existing
  file of that name that is not the same file stops the launcher, so no other VAE is loaded).

Everything else is train.py unchanged: torchrun / DDP, AdamW with filter_params groups, the lr
schedule, `auto_resume` from `<local_out_dir_path>/ar-ckpt*.pth` (put the exported
ar-ckpt-last.pth there), checkpoints every 10 epochs. Usage, from the VAR checkout:

    VAR_TS_MODEL=/path/to/official torchrun --nproc_per_node=8 \\
        /path/to/var.ts/packages/train/scripts/official/var_ts_official.py \\
        --data_path=/path/to/images --local_out_dir_path=/path/to/official \\
        --depth=4 --pn=1_2_3_4_6_8 --patch_size=4 --bs=768 --ep=100 --tblr=1e-4 --fp16=1

(`--pn` / `--patch_size`: the patch numbers and the tokenizer's downsampling factor, as in the
exported `args`; `VAR_REF_DIR`: the official checkout, default the working directory.)
"""
import datetime
import importlib
import json
import os
import sys
import types


def _stand_in(name, **attrs):
    try:
        importlib.import_module(name)
    except ImportError:
        m = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(m, k, v)
        sys.modules[name] = m
        print(f"[var_ts_official] {name} is not installed; registered an empty stand-in (train.py does not use it)", file=sys.stderr)


def import_official(ref_dir=None, stand_ins=False):
    """Put the official checkout on sys.path. With `stand_ins`, register empty modules for the
    imports Debian cannot provide and that the code used here never calls: huggingface_hub
    (the mixin of VARHF), tap (the argument parser base of utils.arg_util.Args) and pytz."""
    ref = os.path.abspath(ref_dir or os.environ.get("VAR_REF_DIR") or os.getcwd())
    if not os.path.exists(os.path.join(ref, "models", "var.py")):
        raise SystemExit(f"[var_ts_official] the official VAR code is not at {ref}: run from the VAR checkout or set VAR_REF_DIR")
    if ref not in sys.path:
        sys.path.insert(0, ref)
    if stand_ins:
        class PyTorchModelHubMixin:
            pass

        class Tap:
            pass

        _stand_in("huggingface_hub", PyTorchModelHubMixin=PyTorchModelHubMixin)
        _stand_in("tap", Tap=Tap)
        _stand_in("pytz", timezone=lambda name: datetime.timezone.utc)
    return ref


def read_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


def build_models(model_dir, cfg=None):
    """The official VQVAE and VAR built from an official model directory's config.json."""
    from models import VAR, VQVAE
    from models.basic_vae import Decoder, Encoder

    cfg = cfg or read_config(model_dir)
    vq = dict(cfg["VQVAE"])
    vq["v_patch_nums"] = tuple(vq["v_patch_nums"])
    vae = VQVAE(**vq)
    dd = cfg.get("ddconfig")
    if dd:
        # VQVAE.__init__ hard-codes the 256-px tokenizer's encoder/decoder: build this model's
        dd = dict(dd)
        dd["ch_mult"] = tuple(dd["ch_mult"])
        vae.encoder = Encoder(double_z=False, **dd)
        vae.decoder = Decoder(**dd)
        vae.downsample = 2 ** (len(dd["ch_mult"]) - 1)
        if vae.test_mode:
            vae.eval()
            [p.requires_grad_(False) for p in vae.parameters()]
    va = dict(cfg["VAR"])
    va["patch_nums"] = tuple(va["patch_nums"])
    var = VAR(vae_local=vae, **va)
    return cfg, vae, var


def make_build_vae_var(model_dir):
    """A replacement of models.build_vae_var (same signature) that builds the exported model."""

    def build_vae_var(device, patch_nums=None, V=None, Cvae=None, ch=None, share_quant_resi=None,
                      num_classes=None, depth=None, shared_aln=False, attn_l2_norm=True,
                      flash_if_available=True, fused_if_available=True,
                      init_adaln=0.5, init_adaln_gamma=1e-5, init_head=0.02, init_std=-1):
        cfg = read_config(model_dir)
        va = cfg["VAR"]
        wrong = [f"{k}: train.py has {a}, the model {b}" for k, a, b in (
            ("depth", depth, va["depth"]),
            ("patch_nums (--pn)", tuple(patch_nums) if patch_nums is not None else None, tuple(va["patch_nums"])),
            ("shared_aln (--saln)", bool(shared_aln), bool(va["shared_aln"])),
            ("attn_l2_norm (--anorm)", bool(attn_l2_norm), bool(va["attn_l2_norm"])),
        ) if a is not None and a != b]
        if wrong:
            raise SystemExit("[var_ts_official] the train.py arguments do not describe the exported model: " + "; ".join(wrong))
        cfg["VAR"] = dict(va, flash_if_available=flash_if_available, fused_if_available=fused_if_available)
        _, vae, var = build_models(model_dir, cfg)
        var.init_weights(init_adaln=init_adaln, init_adaln_gamma=init_adaln_gamma, init_head=init_head, init_std=init_std)
        return vae.to(device), var.to(device)

    return build_vae_var


def link_vae(model_dir, name="vae_ch160v4096z32.pth"):
    """Make `name` in the working directory the model's vae.pth (train.py loads that name)."""
    want = os.path.realpath(os.path.join(model_dir, "vae.pth"))
    if os.path.lexists(name):
        if os.path.realpath(name) != want:
            raise SystemExit(f"[var_ts_official] {os.path.abspath(name)} exists and is not {want}: train.py would load that VAE; move it away")
        return
    os.symlink(want, name)


def main():
    model_dir = os.environ.get("VAR_TS_MODEL")
    if not model_dir:
        raise SystemExit("[var_ts_official] set VAR_TS_MODEL to the official model directory var.ts wrote (config.json, vae.pth, var.pth)")
    model_dir = os.path.abspath(model_dir)
    import_official()
    cfg = read_config(model_dir)
    import models
    import train
    from PIL import Image

    models.build_vae_var = make_build_vae_var(model_dir)
    original_build_dataset = train.build_dataset
    gray = bool(cfg.get("ddconfig")) and cfg["ddconfig"].get("in_channels") == 1

    def build_dataset(*a, **k):
        _, train_set, val_set = original_build_dataset(*a, **k)
        if gray:
            def loader(path):
                with open(path, "rb") as f:
                    return Image.open(f).convert("L")
            train_set.loader = val_set.loader = loader
        return cfg["VAR"]["num_classes"], train_set, val_set

    train.build_dataset = build_dataset
    link_vae(model_dir)
    try:
        train.main_training()
    finally:
        train.dist.finalize()


if __name__ == "__main__":
    main()
