"""Run the official VAR code (FoundationVision/VAR, ../shared/reference/VAR) on files var.ts wrote.

usage:
  official_var.py logits MODEL_DIR INPUTS.pth OUT.pth
      Build the official VQVAE and VAR from MODEL_DIR/config.json, load MODEL_DIR/vae.pth and
      var.pth (torch.load(weights_only=True), load_state_dict(strict=True)), then from INPUTS.pth
      ({img, label}) compute gt_BL = cat(vae.img_to_idxBl(img)), x = idxBl_to_var_input and
      logits = var(label, x) with cond_drop_rate 0; torch.save them to OUT.pth.
  official_var.py launcher-checks EXPORT_DIR WORK_DIR
      The guide's launcher refuses train.py arguments other than the model's and a foreign
      vae_ch160v4096z32.pth, and links the model's vae.pth under that name (WORK_DIR/checks.json).
  official_var.py trainer-step EXPORT_DIR OUT_DIR [--steps N]
      Build the official trainer as train.py does (filter_params groups, AdamW betas (0.9, 0.95),
      AmpOptimizer without AMP, VARTrainer), load EXPORT_DIR/ar-ckpt-last.pth with
      VARTrainer.load_state_dict(strict=True, skip_vae=True) (the VAE from vae.pth, as train.py),
      dump the optimizer state by parameter name (OUT_DIR/before.pth), run N official training
      steps on CPU (seeded images and labels), then save OUT_DIR/ar-ckpt-last.pth exactly as
      train.py saves it and the state by name again (OUT_DIR/after.pth); OUT_DIR/summary.json.

The reference directory is VAR_REF_DIR (default: ../shared/reference/VAR from the repository root).
The models are built by the guide's launcher (scripts/official/var_ts_official.py: `build_models`,
and for trainer-step its replacement of train.py's `build_vae_var`). Debian has no packages for
three imports of the official code that these runs never exercise: huggingface_hub (a mixin of
VARHF only), tap (the argument parser of utils/arg_util.Args) and, on some systems, pytz (time
strings of the loggers). When one is missing, an empty stand-in module is registered under its
name and a line on stderr says so; nothing of the model, the optimizer or the trainer is replaced.
"""
import importlib
import json
import os
import sys
import types

import torch


def _ref_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", "..", ".."))
    return os.environ.get("VAR_REF_DIR") or os.path.join(root, "..", "shared", "reference", "VAR")


# the launcher of the guide (packages/train/scripts/official/var_ts_official.py): its model builder is what runs here
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "official"))
import var_ts_official  # noqa: E402


def import_official():
    return var_ts_official.import_official(_ref_dir(), stand_ins=True)


def build_models(model_dir):
    return var_ts_official.build_models(model_dir)


def load_models(model_dir):
    cfg, vae, var = build_models(model_dir)
    vae_sd = torch.load(os.path.join(model_dir, "vae.pth"), map_location="cpu", weights_only=True)
    var_sd = torch.load(os.path.join(model_dir, "var.pth"), map_location="cpu", weights_only=True)
    # torch 1.13 has no load_state_dict(assign=), which VQVAE's override passes on
    torch.nn.Module.load_state_dict(vae, vae_sd, strict=True)
    var.load_state_dict(var_sd, strict=True)
    return cfg, vae, var


def cmd_logits(model_dir, inputs, out):
    _, vae, var = load_models(model_dir)
    var.eval()
    var.cond_drop_rate = 0
    inp = torch.load(inputs, map_location="cpu", weights_only=True)
    with torch.no_grad():
        idx = vae.img_to_idxBl(inp["img"])
        gt = torch.cat(idx, dim=1)
        x = vae.quantize.idxBl_to_var_input(idx)
        logits = var(inp["label"], x)
    torch.save({"gt_BL": gt, "var_input": x.contiguous(), "logits": logits.contiguous()}, out)
    print(json.dumps({"torch": torch.__version__, "logits": list(logits.shape)}))


def optimizer_by_name(trainer):
    """{name.step / name.exp_avg / name.exp_avg_sq / name.param} of the official optimizer."""
    opt = trainer.var_opt.optimizer
    out = {}
    for name, p in trainer.var_wo_ddp.named_parameters():
        st = opt.state.get(p, {})
        for k in ("exp_avg", "exp_avg_sq"):
            if k in st:
                out[f"{name}.{k}"] = st[k].detach().clone().contiguous()
        if "step" in st:
            s = st["step"]
            out[f"{name}.step"] = (s if isinstance(s, torch.Tensor) else torch.tensor(float(s))).detach().clone().reshape(())
        out[f"{name}.param"] = p.detach().clone().contiguous()
    return out


class _NoDDP(torch.nn.Module):
    """What train.py uses without torch.distributed: the model, plus the attribute DDP has."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.require_backward_grad_sync = False

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


def cmd_trainer_step(export_dir, out_dir, steps):
    from functools import partial

    from trainer import VARTrainer
    from utils.amp_sc import AmpOptimizer
    from utils.lr_control import filter_params
    from utils import misc
    from utils.misc import MetricLogger

    misc._change_builtin_print(True)  # what the official launcher sets up (print(..., force=True) etc.)
    torch.manual_seed(0)
    ckpt = torch.load(os.path.join(export_dir, "ar-ckpt-last.pth"), map_location="cpu")
    args = ckpt["args"]
    cfg = var_ts_official.read_config(export_dir)
    # as train.py calls build_vae_var (the launcher's replacement), then loads the VAE it links
    vae, var = var_ts_official.make_build_vae_var(export_dir)(
        device="cpu", patch_nums=tuple(args["patch_nums"]), num_classes=cfg["VAR"]["num_classes"], depth=args["depth"],
        shared_aln=args["saln"], attn_l2_norm=args["anorm"], flash_if_available=False, fused_if_available=False,
    )
    cwd = os.getcwd()
    os.makedirs(out_dir, exist_ok=True)
    os.chdir(out_dir)
    try:
        var_ts_official.link_vae(export_dir)
        # torch 1.13 has no load_state_dict(assign=), which VQVAE's override passes on (train.py needs torch >= 2.1)
        torch.nn.Module.load_state_dict(vae, torch.load("vae_ch160v4096z32.pth", map_location="cpu"), strict=True)
    finally:
        os.chdir(cwd)
    # the optimizer as train.py builds it
    names, paras, para_groups = filter_params(var, nowd_keys={
        "cls_token", "start_token", "task_token", "cfg_uncond",
        "pos_embed", "pos_1LC", "pos_start", "start_pos", "lvl_embed",
        "gamma", "beta",
        "ada_gss", "moe_bias",
        "scale_mul",
    })
    opt = partial(torch.optim.AdamW, betas=(0.9, 0.95))(params=para_groups, lr=args["tlr"], weight_decay=0)
    var_opt = AmpOptimizer(mixed_precision=0, optimizer=opt, names=names, paras=paras, grad_clip=args["tclip"], n_gradient_accumulation=1)
    tc = ckpt["trainer"]["config"]
    trainer = VARTrainer(
        device="cpu", patch_nums=tuple(tc["patch_nums"]), resos=tuple(tc["resos"]),
        vae_local=vae, var_wo_ddp=var, var=_NoDDP(var), var_opt=var_opt, label_smooth=args["ls"],
    )
    trainer.load_state_dict(ckpt["trainer"], strict=True, skip_vae=True)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(optimizer_by_name(trainer), os.path.join(out_dir, "before.pth"))
    before_step = float(next(iter(opt.state.values()))["step"]) if opt.state else 0.0  # (the step tensor is updated in place)
    g = torch.Generator().manual_seed(1)
    B = int(args.get("batch_size", 4))
    C = cfg["ddconfig"]["in_channels"] if cfg.get("ddconfig") else 3
    H = int(args["data_load_reso"])
    V = cfg["VQVAE"]["vocab_size"]
    num_classes = cfg["VAR"]["num_classes"]
    me = MetricLogger(delimiter="  ")
    grad_norms = []
    for it in range(steps):
        inp = torch.rand(B, C, H, H, generator=g) * 2 - 1
        label = torch.randint(0, num_classes, (B,), generator=g)
        gn, _ = trainer.train_step(
            it=it + 1, g_it=it + 1, stepping=True, metric_lg=me, tb_lg=None,
            inp_B3HW=inp, label_B=label, prog_si=-1, prog_wp_it=20,
        )
        grad_norms.append(float(gn))
    torch.save(optimizer_by_name(trainer), os.path.join(out_dir, "after.pth"))
    # as train.py saves ar-ckpt-last.pth
    torch.save({
        "epoch": ckpt["epoch"],
        "iter": ckpt["iter"] + steps,
        "trainer": trainer.state_dict(),
        "args": args,
    }, os.path.join(out_dir, "ar-ckpt-last.pth"))
    after_step = next(iter(opt.state.values()))["step"]
    summary = json.dumps({
        "torch": torch.__version__,
        "groups": [len(g_["params"]) for g_ in opt.param_groups],
        "wd_sc": [g_["wd_sc"] for g_ in opt.param_groups],
        "step_before": float(before_step),
        "step_after": float(after_step),
        "grad_norms": grad_norms,
        "vocab": V,
    })
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        f.write(summary)


def cmd_launcher_checks(export_dir, work_dir):
    """The launcher refuses train.py arguments that do not describe the model, and a foreign VAE file."""
    cfg = var_ts_official.read_config(export_dir)
    out = {}
    try:
        var_ts_official.make_build_vae_var(export_dir)(device="cpu", patch_nums=tuple(cfg["VAR"]["patch_nums"]), depth=cfg["VAR"]["depth"] + 1)
        out["depth"] = "accepted"
    except SystemExit as e:
        out["depth"] = str(e)
    os.makedirs(work_dir, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(work_dir)
    try:
        with open("vae_ch160v4096z32.pth", "wb") as f:
            f.write(b"another vae")
        try:
            var_ts_official.link_vae(export_dir)
            out["foreign_vae"] = "accepted"
        except SystemExit as e:
            out["foreign_vae"] = str(e)
        os.remove("vae_ch160v4096z32.pth")
        var_ts_official.link_vae(export_dir)
        out["linked"] = os.path.realpath("vae_ch160v4096z32.pth")
    finally:
        os.chdir(cwd)
    with open(os.path.join(work_dir, "checks.json"), "w") as f:
        json.dump(out, f)


def main():
    import_official()
    cmd = sys.argv[1]
    if cmd == "logits":
        cmd_logits(*sys.argv[2:5])
    elif cmd == "launcher-checks":
        cmd_launcher_checks(sys.argv[2], sys.argv[3])
    elif cmd == "trainer-step":
        steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 1
        cmd_trainer_step(sys.argv[2], sys.argv[3], steps)
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
