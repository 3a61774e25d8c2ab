"""Write a fixture case in the var-tiny format from the official VAR code, for any configuration.

usage: /usr/bin/python3 tooling/fixture-cases/make_case.py OUT_DIR [--preset NAME] [--key value ...]
       /usr/bin/python3 tooling/fixture-cases/make_case.py --list

The official implementation (FoundationVision/VAR, read from ../shared/reference/VAR or $VAR_REF) builds both
models; the generator re-initialises every parameter with a seeded, documented rule (the official init makes the
AdaLN gammas ~1e-5, so every output would be near-trivial), searches the parameter seed until every discrete
decision (nearest code, top-1 logit) has head-room above the thresholds, and records what the parity suites read:

  config.json      constructor arguments, seeds, derived values (L, begin_ends, phi per scale, attention scale,
                   attn_max_scale_mul: null without attn_l2_norm, as the official SelfAttention has none)
  refs.json        per tensor: meaning, the official call, shape, dtype, stats; margins; notes
  refs.safetensors img, label, enc_f, idx_s*, fhat_s*, recon, recon_all_s*, dec_of_fhat, var_input, gt_BL, logits,
                   losses, greedy generations (cfg 1.5, cfg 4, unconditional) with per-scale logits and tokens,
                   the interpolation primitives
  grads.safetensors d loss_train / d param for every VAR parameter
  vae.pth, var.pth, vae.safetensors, var.safetensors

Zero-shot edits (in-/out-painting with per-scale keep masks, sampled and effective tokens, logits) and the
get_edit_mask probes are written when the official demo notebook is given (--edit-notebook PATH, or
$VAR_EDIT_NOTEBOOK, or demo_zero_shot_edit.ipynb in the reference checkout): its edit cell is exec()-ed at run time,
as the var-tiny generator did. Without it the case has no edit runs (refs.json setup says so) and the suites compare
the runs a case has. Needs Debian's python3-torch (torch 1.13) and numpy; CPU, float32, 2 threads.
"""
import argparse, hashlib, json, math, os, sys, tempfile, time, types

REF = os.environ.get('VAR_REF') or os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'reference', 'VAR')
REF = os.path.abspath(REF)
sys.path.insert(0, REF)
_hf = types.ModuleType('huggingface_hub')
class PyTorchModelHubMixin:  # noqa: E302 — the official VAR mixes this in; only from_pretrained uses it
    pass
_hf.PyTorchModelHubMixin = PyTorchModelHubMixin
sys.modules.setdefault('huggingface_hub', _hf)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import models.var as var_mod  # noqa: E402
import models.helpers as helpers  # noqa: E402
from models.vqvae import VQVAE  # noqa: E402
from models.var import VAR  # noqa: E402

# Named configurations: the axes the fixture README lists (patch_nums, image size, shared_aln, attention without
# L2 norm, share_quant_resi, negative quant_resi, vocabulary). Every key can also be overridden on the command line.
PRESETS = {
    'tiny': {},
    'shared-aln-nol2': {'shared_aln': True, 'attn_l2_norm': False, 'num_heads': 4, 'patch_nums': [1, 2, 4]},
    'qsr1-neg': {'share_quant_resi': 1, 'quant_resi': -0.5, 'vocab_size': 48, 'patch_nums': [1, 3, 4], 'depth': 1, 'num_heads': 1},
    'nonshared': {'share_quant_resi': 0, 'quant_resi': 0.25, 'patch_nums': [1, 2, 3, 5], 'img_size': 80},
    'px128': {'img_size': 128, 'patch_nums': [1, 2, 3, 4, 6, 8], 'vocab_size': 96, 'z_channels': 4, 'depth': 2},
    # 256 px: 1 image, a small codebook and a wider head (x8 logits) so that all ~800 greedy decisions keep head-room
    'px256': {'img_size': 256, 'patch_nums': [1, 2, 4, 8, 12, 16], 'vocab_size': 32, 'z_channels': 4, 'depth': 1, 'batch': 1,
              'label': [5], 'head_scale': 8.0, 'seed_tries': 24},
}
DEFAULTS = {
    'vocab_size': 64, 'z_channels': 8, 'ch': 32, 'quant_resi': 0.5, 'share_quant_resi': 4, 'using_znorm': False,
    'num_classes': 10, 'depth': 2, 'embed_dim': 64, 'num_heads': 2, 'mlp_ratio': 4, 'shared_aln': False,
    'attn_l2_norm': True, 'patch_nums': [1, 2, 3, 4], 'img_size': 64, 'batch': 2, 'label': [3, 7],
    'param_seed': 1001, 'seed_tries': 12, 'head_scale': 1.0,
}
THRESHOLDS = {'VQ_REL_GAP_MIN': 1e-4, 'TOP1_GAP_MIN': 2e-3}
GEN_RUNS = [('gen_cfg1.5', 'label', 1.5), ('gen_cfg4.0', 'label', 4.0), ('gen_uncond', -1, 1.5)]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out', nargs='?')
    ap.add_argument('--preset', default='tiny', choices=sorted(PRESETS))
    ap.add_argument('--list', action='store_true', help='print the presets as JSON and exit')
    ap.add_argument('--edit-notebook', default=None, help='the official demo_zero_shot_edit.ipynb (its edit cell is exec()-ed for the edit runs)')
    for k, v in DEFAULTS.items():
        if isinstance(v, bool):
            ap.add_argument('--' + k.replace('_', '-'), dest=k, type=lambda s: s.lower() in ('1', 'true', 'yes'), default=None)
        elif isinstance(v, list):
            ap.add_argument('--' + k.replace('_', '-'), dest=k, type=lambda s: [int(x) for x in s.split(',')], default=None)
        else:
            ap.add_argument('--' + k.replace('_', '-'), dest=k, type=type(v), default=None)
    a = ap.parse_args()
    if a.list:
        print(json.dumps({n: {**DEFAULTS, **p} for n, p in PRESETS.items()}, indent=1))
        sys.exit(0)
    if not a.out:
        ap.error('OUT_DIR is required')
    cfg = {**DEFAULTS, **PRESETS[a.preset]}
    for k in DEFAULTS:
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    cfg['preset'] = a.preset
    nb = a.edit_notebook or os.environ.get('VAR_EDIT_NOTEBOOK') or os.path.join(REF, 'demo_zero_shot_edit.ipynb')
    cfg['edit_notebook'] = nb if os.path.exists(nb) else None
    return a.out, cfg


def build(cfg):
    vae = VQVAE(vocab_size=cfg['vocab_size'], z_channels=cfg['z_channels'], ch=cfg['ch'], dropout=0.0, beta=0.25,
                using_znorm=cfg['using_znorm'], quant_conv_ks=3, quant_resi=cfg['quant_resi'],
                share_quant_resi=cfg['share_quant_resi'], default_qresi_counts=0, v_patch_nums=tuple(cfg['patch_nums']),
                test_mode=True)
    var = VAR(vae_local=vae, num_classes=cfg['num_classes'], depth=cfg['depth'], embed_dim=cfg['embed_dim'],
              num_heads=cfg['num_heads'], mlp_ratio=cfg['mlp_ratio'], drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0,
              norm_eps=1e-6, shared_aln=cfg['shared_aln'], cond_drop_rate=0.1, attn_l2_norm=cfg['attn_l2_norm'],
              patch_nums=tuple(cfg['patch_nums']), flash_if_available=False, fused_if_available=False)
    var.init_weights(init_adaln=0.5, init_adaln_gamma=1e-5, init_head=0.02, init_std=-1)
    return vae.eval(), var.eval()


def make_image(size, seed, B):
    g = torch.Generator().manual_seed(seed)
    lo = torch.randn(B, 3, size // 8, size // 8, generator=g)
    mid = torch.randn(B, 3, size // 4, size // 4, generator=g)
    up = lambda t: F.interpolate(t, size=(size, size), mode='bicubic', align_corners=False)
    return torch.tanh(up(lo) + 0.3 * up(mid))


def rule(name, p, module):
    """(mean, std, how) of the re-initialisation of one parameter (documented in config.json reinit.doc)."""
    if name.endswith('scale_mul_1H11'):
        return math.log(4), 0.5, 'log(4)+N(0,0.5)'
    if name.endswith('ada_gss'):
        return 0.0, 0.2, 'N(0,0.2)'
    if name.endswith('class_emb.weight'):
        return 0.0, 1.0, 'N(0,1)'
    if name.endswith(('lvl_embed.weight', 'pos_start', 'pos_1LC')):
        return 0.0, 0.5, 'N(0,0.5)'
    if isinstance(module, nn.GroupNorm) and name.endswith('weight'):
        return 1.0, 0.1, '1+N(0,0.1)'
    if p.dim() >= 2:
        fan_in = int(np.prod(p.shape[1:]))
        return 0.0, 1 / math.sqrt(fan_in), f'N(0,1/sqrt({fan_in}))'
    return 0.0, 0.1, 'N(0,0.1)'


def reinit(model, g, skip=()):
    rules = {}
    with torch.no_grad():
        for mname, m in model.named_modules():
            for pname, p in m.named_parameters(recurse=False):
                name = f'{mname}.{pname}' if mname else pname
                if name in skip:
                    continue
                mean, std, how = rule(name, p, m)
                v = torch.randn(p.shape, generator=g) * std + mean
                if name.endswith('mat_qkv.weight'):
                    C = p.shape[1]
                    v[: 2 * C] *= 2
                    how += ' (q,k rows x2)'
                p.copy_(v)
                rules[name] = how
    return rules


def vq_margins(vae, img):
    """Relative gap between the nearest and second-nearest code of every VQ decision, per scale (min)."""
    q = vae.quantize
    f = vae.quant_conv(vae.encoder(img))
    B, C, H, W = f.shape
    f_rest = f.clone()
    SN = len(q.v_patch_nums)
    out = []
    E = q.embedding.weight.data
    for si, pn in enumerate(q.v_patch_nums):
        z = F.interpolate(f_rest, size=(pn, pn), mode='area') if si != SN - 1 else f_rest
        z = z.permute(0, 2, 3, 1).reshape(-1, C).double()
        d = (z.square().sum(1, keepdim=True) + E.double().square().sum(1) - 2 * z @ E.double().T)
        two = d.topk(2, largest=False, dim=1).values
        out.append(float(((two[:, 1] - two[:, 0]) / two[:, 0].abs().clamp_min(1e-12)).min()))
        idx = d.argmin(1).view(B, pn, pn)
        h = q.embedding(idx).permute(0, 3, 1, 2)
        if si != SN - 1:
            h = F.interpolate(h, size=(H, W), mode='bicubic')
        f_rest = f_rest - q.quant_resi[si / (SN - 1)](h)
    return out


class Recorder:
    """Wraps the official sampler and vae.fhat_to_img to capture per-scale logits, tokens and the final f_hat."""

    def __init__(self, vae):
        self.vae = vae
        self.logits, self.idx, self.fhat = [], [], None
        self._orig_sample = var_mod.sample_with_top_k_top_p_
        self._orig_fhat = vae.fhat_to_img

    def __enter__(self):
        def sample(logits_BlV, **kw):
            self.logits.append(logits_BlV.clone())
            r = self._orig_sample(logits_BlV, **kw)
            self.idx.append(r[:, :, 0].clone())
            return r

        def fhat_to_img(f_hat):
            self.fhat = f_hat.clone()
            return self._orig_fhat(f_hat)

        var_mod.sample_with_top_k_top_p_ = sample
        self.vae.fhat_to_img = fhat_to_img
        return self

    def __exit__(self, *exc):
        var_mod.sample_with_top_k_top_p_ = self._orig_sample
        self.vae.fhat_to_img = self._orig_fhat


EDIT_RECT = (0.25, 0.25, 0.75, 0.75)
EDIT_RUNS = [('edit_inpaint', True), ('edit_outpaint', False)]
MASK_PROBES = [('a', (0.125, 0.375, 0.625, 0.875)), ('b', (0.1, 0.1, 0.8, 0.8)), ('c', (0.0, 0.125, 1.0, 0.375))]


def load_edit_cell(path):
    """exec() the notebook's code cell that defines autoregressive_infer_cfg_with_mask; returns its namespace and sha256."""
    with open(path) as f:
        nb = json.load(f)
    for c in nb['cells']:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        if c['cell_type'] == 'code' and 'def autoregressive_infer_cfg_with_mask' in src:
            ns = {'__name__': 'edit_cell'}
            exec(compile(src, f'{path}:edit-cell', 'exec'), ns)
            return ns, hashlib.sha256(src.encode()).hexdigest()
    sys.exit(f'{path}: no code cell defines autoregressive_infer_cfg_with_mask')


def mask_call(rect, inpainting):
    return 'get_edit_mask(var.patch_nums, {}, {}, {}, {}, device="cpu", inpainting={})'.format(*rect, inpainting)


def run_edit(ns, vae, var, B, label, idx, inpainting):
    """One official edit run (cfg 3, greedy): per-scale logits, sampled / effective tokens, keep masks, f_hat, image."""
    mask = ns['get_edit_mask'](list(var.patch_nums), *EDIT_RECT, device='cpu', inpainting=inpainting)
    logits, sampled = [], []
    orig = ns['sample_with_top_k_top_p_']

    def rec(logits_BlV, **kw):
        logits.append(logits_BlV.clone())
        r = orig(logits_BlV, **kw)
        sampled.append(r[:, :, 0].clone())
        return r

    ns['sample_with_top_k_top_p_'] = rec
    try:
        with Recorder(vae) as fr:
            img = ns['autoregressive_infer_cfg_with_mask'](var, B=B, label_B=label, g_seed=0, cfg=3, top_k=1, top_p=0.0, more_smooth=False,
                                                           input_img_tokens=idx, edit_mask=mask)
    finally:
        ns['sample_with_top_k_top_p_'] = orig
    force, tokens, gaps = [], [], []
    for si, pn in enumerate(var.patch_nums):
        f = ns['replace_embedding'](mask, torch.zeros(B, 1, pn, pn), torch.ones(B, 1, pn, pn), pn, pn)
        force.append(f)
        keep = f.view(B, -1) > 0.5
        tokens.append(torch.where(keep, idx[si], sampled[si]))
        two = logits[si].double().topk(2, dim=-1).values
        g = (two[..., 0] - two[..., 1])[~keep]
        gaps.append(float(g.min()) if g.numel() else math.inf)
    return {'mask': mask, 'img': img, 'fhat': fr.fhat, 'logits': logits, 'sampled': sampled, 'force': force, 'tokens': tokens, 'gaps': gaps}


def top1_gaps(logits_list):
    out = []
    for lg in logits_list:
        two = lg.double().topk(2, dim=-1).values
        out.append(float((two[..., 0] - two[..., 1]).min()))
    return out


def stats(t):
    a = t.double()
    if a.numel() == 0:
        return {}
    return {'min': float(a.min()), 'max': float(a.max()), 'mean': float(a.mean()), 'std': float(a.std()) if a.numel() > 1 else 0.0}


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def write_safetensors(path, tensors):
    """safetensors writer (the format is a JSON header + raw little-endian data); atomic: temp file + rename."""
    dt = {torch.float32: 'F32', torch.int64: 'I64', torch.float64: 'F64'}
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[k] = {'dtype': dt[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(len(h).to_bytes(8, 'little'))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    out, cfg = parse_args()
    t0 = time.time()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    pn, B, S = cfg['patch_nums'], cfg['batch'], len(cfg['patch_nums'])
    if cfg['img_size'] // 16 != pn[-1]:
        sys.exit(f'img_size {cfg["img_size"]} gives a {cfg["img_size"] // 16}x{cfg["img_size"] // 16} latent (downsample 16); '
                 f'the last patch_num must equal it, got {pn[-1]}')
    label = torch.tensor(cfg['label'][:B] + [i % cfg['num_classes'] for i in range(max(0, B - len(cfg['label'])))], dtype=torch.int64)
    img = make_image(cfg['img_size'], 1002, B)
    edit_ns, edit_sha = load_edit_cell(cfg['edit_notebook']) if cfg['edit_notebook'] else (None, None)
    search, chosen = [], None
    for attempt in range(cfg['seed_tries']):
        seed = cfg['param_seed'] + attempt
        vae, var = build(cfg)
        var.cond_drop_rate = 0.0
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            vae_rules = reinit(vae, g, skip=('quantize.embedding.weight',))
            s = float(vae.quant_conv(vae.encoder(img)).std())
            vae.quantize.embedding.weight.copy_(torch.randn(vae.quantize.embedding.weight.shape, generator=g) * s)
            vae_rules['quantize.embedding.weight'] = f'N(0,{s:.6g}) (std of quant_conv(encoder(img)))'
            var_rules = reinit(var, g)
            if cfg['head_scale'] != 1.0:  # spreads the logits: larger top-1 gaps for cases with many tokens
                var.head.weight.mul_(cfg['head_scale']); var.head.bias.mul_(cfg['head_scale'])
                for n in ('head.weight', 'head.bias'):
                    var_rules[n] += f' x {cfg["head_scale"]:g} (head_scale)'
            vq = vq_margins(vae, img)
            gaps = {}
            for run, lb, cfgv in GEN_RUNS:
                with Recorder(vae) as rec:
                    var.autoregressive_infer_cfg(B=B, label_B=label if lb == 'label' else lb, g_seed=0, cfg=cfgv, top_k=1, top_p=0.0, more_smooth=False)
                gaps[run] = top1_gaps(rec.logits)
            if edit_ns is not None:
                idx0 = vae.img_to_idxBl(img)
                for run, inp in EDIT_RUNS:
                    gaps[run] = run_edit(edit_ns, vae, var, B, label, idx0, inp)['gaps']
        ok = min(vq) >= THRESHOLDS['VQ_REL_GAP_MIN'] and min(min(v) for v in gaps.values()) >= THRESHOLDS['TOP1_GAP_MIN']
        search.append({'param_seed': seed, 'vq_rel_gap_min': min(vq), 'top1_gap_min': min(min(v) for v in gaps.values()), 'accepted': ok})
        print(f'param_seed {seed}: vq gap {min(vq):.3g}, top-1 gap {search[-1]["top1_gap_min"]:.3g} -> {"accepted" if ok else "rejected"}', file=sys.stderr)
        if ok:
            chosen = (seed, vae, var, vae_rules, var_rules, vq, gaps, s)
            break
    if chosen is None:
        sys.exit(f'no parameter seed in {cfg["param_seed"]}..{cfg["param_seed"] + cfg["seed_tries"] - 1} gives margins above {THRESHOLDS}; '
                 'raise --seed-tries or change --param-seed')
    seed, vae, var, vae_rules, var_rules, vq, gaps, cb_std = chosen
    os.makedirs(out, exist_ok=True)
    T, meta = {}, {}

    def put(name, t, meaning, call):
        t = t.detach().clone()
        T[name] = t
        meta[name] = {'meaning': meaning, 'call': call, 'shape': list(t.shape), 'dtype': {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype], 'stats': stats(t)}

    with torch.no_grad():
        put('img', img, 'input image batch in [-1,1] (smooth random, see config.json image_recipe)', 'make_image(img_size, image_seed)')
        put('label', label, 'class labels used for logits / loss / generation', 'torch.tensor(label)')
        enc_f = vae.quant_conv(vae.encoder(img))
        put('enc_f', enc_f, 'encoder features before quantisation', 'vae.quant_conv(vae.encoder(img))')
        idx = vae.img_to_idxBl(img)
        fh = vae.quantize.f_to_idxBl_or_fhat(enc_f, to_fhat=True)
        for si, p in enumerate(pn):
            put(f'idx_s{si}', idx[si], f'VQ token indices of scale {si} (pn={p}), row-major over (h,w)', f'vae.img_to_idxBl(img)[{si}]')
        for si in range(S):
            put(f'fhat_s{si}', fh[si], f'cumulative f_hat after scale {si} (always at the last-scale resolution)', f'vae.quantize.f_to_idxBl_or_fhat(enc_f, to_fhat=True)[{si}]')
        put('recon', vae.idxBl_to_img(idx, same_shape=True, last_one=True), 'reconstruction from all scales, in [-1,1]', 'vae.idxBl_to_img(idx, same_shape=True, last_one=True)')
        for si, r in enumerate(vae.idxBl_to_img(idx, same_shape=True, last_one=False)):
            put(f'recon_all_s{si}', r, f'reconstruction from scales 0..{si}, in [-1,1]', f'vae.idxBl_to_img(idx, same_shape=True, last_one=False)[{si}]')
        put('dec_of_fhat', vae.fhat_to_img(fh[-1]), 'decoder applied to the last f_hat of f_to_idxBl_or_fhat, in [-1,1]', f'vae.fhat_to_img(fhat_s{S - 1})')
        x = vae.quantize.idxBl_to_var_input(idx)
        put('var_input', x, 'teacher-forcing input x_BLCv_wo_first_l (B, L-first_l, Cvae)', 'vae.quantize.idxBl_to_var_input(idx)')
        gt = torch.cat(idx, dim=1)
        put('gt_BL', gt, 'all target tokens concatenated over scales', 'torch.cat(idx, dim=1)')
    L, V = var.L, var.V
    torch.manual_seed(0)
    logits = var.forward(label, x)
    per = nn.CrossEntropyLoss(label_smoothing=0.1, reduction='none')(logits.view(-1, V), gt.view(-1)).view(B, -1)
    loss_train = per.mul(1 / L).sum(-1).mean()
    var.zero_grad(set_to_none=True)
    loss_train.backward()
    grads = {n: (p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)) for n, p in var.named_parameters()}
    with torch.no_grad():
        put('logits', logits, 'teacher-forcing logits (B, L, V); cond_drop_rate=0', 'var.forward(label, var_input)  # var.cond_drop_rate = 0')
        put('loss_train', loss_train, 'training loss: CE(label_smoothing=0.1, reduction=none) * (1/L), summed over L, mean over B (the loss of trainer.VARTrainer.train_step with prog_si=-1, recomputed directly)',
            "nn.CrossEntropyLoss(label_smoothing=0.1, reduction='none')(logits.view(-1,V), gt_BL.view(-1)).view(B,-1).mul(1/L).sum(-1).mean()")
        put('loss_train_per_token', per, 'per-token CE with label_smoothing=0.1 (before * 1/L)', "nn.CrossEntropyLoss(label_smoothing=0.1, reduction='none')(logits.view(-1,V), gt_BL.view(-1)).view(B,-1)")
        put('loss_val', nn.CrossEntropyLoss(label_smoothing=0.0)(logits.view(-1, V), gt.view(-1)), 'validation loss: CE with label_smoothing=0, mean over all B*L tokens',
            "nn.CrossEntropyLoss(label_smoothing=0.0, reduction='mean')(logits.view(-1,V), gt_BL.view(-1))")
        per0 = nn.CrossEntropyLoss(label_smoothing=0.0, reduction='none')(logits.view(-1, V), gt.view(-1)).view(B, -1)
        put('loss_val_weighted', per0.mul(1 / L).sum(-1).mean(), 'CE with label_smoothing=0 weighted exactly like the train loss (1/L, sum over L, mean over B)',
            "nn.CrossEntropyLoss(label_smoothing=0.0, reduction='none')(...).view(B,-1).mul(1/L).sum(-1).mean()")
        for run, lb, cfgv in GEN_RUNS:
            call = f'var.autoregressive_infer_cfg(B={B}, label_B={"label" if lb == "label" else lb}, g_seed=0, cfg={cfgv}, top_k=1, top_p=0.0, more_smooth=False)'
            if lb != 'label':
                call += '  # python int -1 -> class num_classes'
            with Recorder(vae) as rec:
                im = var.autoregressive_infer_cfg(B=B, label_B=label if lb == 'label' else lb, g_seed=0, cfg=cfgv, top_k=1, top_p=0.0, more_smooth=False)
            put(f'{run}_img', im, 'generated image in [0,1] (fhat_to_img(f_hat).add_(1).mul_(0.5))', call)
            put(f'{run}_fhat', rec.fhat, 'final f_hat passed to vae.fhat_to_img inside autoregressive_infer_cfg', call + '  # captured by wrapping vae.fhat_to_img')
            for si, p in enumerate(pn):
                put(f'{run}_idx_s{si}', rec.idx[si], f'sampled token indices of scale {si} (B, pn*pn)', call + '  # captured by wrapping models.var.sample_with_top_k_top_p_')
                put(f'{run}_logits_s{si}', rec.logits[si], f'logits of scale {si} after CFG: (1+t)*cond - t*uncond, t = cfg*si/(S-1), before top-k masking', call + '  # argument of models.var.sample_with_top_k_top_p_')
        # the interpolation primitives in isolation
        ig = torch.Generator().manual_seed(1003)
        P = pn[-1]
        for p in sorted(set(pn)):
            put(f'interp_bicubic_in_s{p}', torch.randn((B, cfg['z_channels'], p, p), generator=ig), f'random input (B,Cvae,{p},{p})', 'torch.randn((B,Cvae,s,s), generator=interp_gen)  (drawn in patch_nums order, then interp_area_in)')
        area_in = torch.randn((B, cfg['z_channels'], P, P), generator=ig)
        for p in sorted(set(pn)):
            put(f'interp_bicubic_out_s{p}', F.interpolate(T[f'interp_bicubic_in_s{p}'], size=(P, P), mode='bicubic'), f'bicubic upsampling {p}->{P}',
                f"F.interpolate(interp_bicubic_in_s{p}, size=({P},{P}), mode='bicubic')  # align_corners=None(False), A=-0.75, border replicate")
        put('interp_area_in', area_in, f'random input (B,Cvae,{P},{P})', 'torch.randn((B,Cvae,P,P), generator=interp_gen)')
        for p in sorted(set(pn)):
            put(f'interp_area_out_s{p}', F.interpolate(area_in, size=(p, p), mode='area'), f'area downsampling {P}->{p} (adaptive average pooling)', f"F.interpolate(interp_area_in, size=({p},{p}), mode='area')")

        if edit_ns is not None:
            for run, inp in EDIT_RUNS:
                e = run_edit(edit_ns, vae, var, B, label, idx, inp)
                mcall = mask_call(EDIT_RECT, inp)
                call = f'autoregressive_infer_cfg_with_mask(var, B={B}, label_B=label, g_seed=0, cfg=3, top_k=1, top_p=0.0, more_smooth=False, input_img_tokens=vae.img_to_idxBl(img), edit_mask={mcall})'
                put(f'{run}_mask', e['mask'], 'edit mask at the last scale (P,P) float32; 1 = keep the input image token, 0 = generate', mcall)
                put(f'{run}_img', e['img'], 'edited image in [0,1]', call)
                put(f'{run}_fhat', e['fhat'], 'final f_hat of the edit run', call + '  # captured by wrapping vae.fhat_to_img')
                for si, p in enumerate(pn):
                    put(f'{run}_force_s{si}', e['force'][si], f'per-scale keep mask used by replace_embedding at scale {si} (B,1,pn,pn); 1 = token taken from input_img_tokens, 0 = sampled token',
                        f'replace_embedding(mask, h=zeros(B,1,pn,pn), gt=ones(B,1,pn,pn), {p}, {p})  # -> force_gt_B1hw (since gt*f + h*(1-f))')
                    put(f'{run}_sampled_s{si}', e['sampled'][si], f'tokens sampled by the model at scale {si} (before replacement by input tokens)', call + '  # captured by wrapping sample_with_top_k_top_p_')
                    put(f'{run}_tokens_s{si}', e['tokens'][si], f'effective tokens of scale {si} after replace_embedding (input token where force=1)', f'where({run}_force_s{si}, vae.img_to_idxBl(img)[{si}], {run}_sampled_s{si})')
                    put(f'{run}_logits_s{si}', e['logits'][si], f'logits of scale {si} after CFG (cfg=3), before sampling', call)
            for name, rect in MASK_PROBES:
                for suffix, inp in (('in', True), ('out', False)):
                    P = pn[-1]
                    rows = (round(rect[0] * P), round(rect[2] * P)); cols = (round(rect[1] * P), round(rect[3] * P))
                    put(f'mask_probe_{name}_{suffix}', edit_ns['get_edit_mask'](list(pn), *rect, device='cpu', inpainting=inp),
                        'get_edit_mask probe: y0={}, x0={}, y1={}, x1={}; python round() gives rows {}, cols {} (banker\'s rounding: x.5 rounds to even)'.format(*rect, rows, cols),
                        mask_call(rect, inp))

    write_safetensors(os.path.join(out, 'refs.safetensors'), T)
    write_safetensors(os.path.join(out, 'grads.safetensors'), grads)
    for stem, m in (('vae', vae), ('var', var)):
        sd = m.state_dict()
        write_safetensors(os.path.join(out, f'{stem}.safetensors'), sd)
        # torch.save takes the zip's root folder from the file name: save to <tmpdir>/<stem>.pth, then move
        with tempfile.TemporaryDirectory(dir=out) as td:
            p = os.path.join(td, f'{stem}.pth')
            torch.save(sd, p)
            os.replace(p, os.path.join(out, f'{stem}.pth'))

    q = vae.quantize
    K = {0: len(pn), 1: 1}.get(cfg['share_quant_resi'], cfg['share_quant_resi'])
    phi_cls = type(q.quant_resi).__name__
    ticks = getattr(q.quant_resi, 'ticks', None)
    phi_index = []
    for si in range(S):
        at = si / (S - 1) if S > 1 else 0.0
        phi_index.append(int(np.argmin(np.abs(ticks - at)).item()) if ticks is not None else 0)
    head_dim = cfg['embed_dim'] // cfg['num_heads']
    config = {
        'case': cfg['preset'],
        'generator': 'tooling/fixture-cases/make_case.py (var.ts), official code from ' + REF,
        'official_source': {'sha256': {f: sha256(os.path.join(REF, f)) for f in ('models/basic_vae.py', 'models/basic_var.py', 'models/helpers.py', 'models/quant.py', 'models/var.py', 'models/vqvae.py')}},
        'VQVAE': {'vocab_size': cfg['vocab_size'], 'z_channels': cfg['z_channels'], 'ch': cfg['ch'], 'dropout': 0.0, 'beta': 0.25,
                  'using_znorm': cfg['using_znorm'], 'quant_conv_ks': 3, 'quant_resi': cfg['quant_resi'], 'share_quant_resi': cfg['share_quant_resi'],
                  'default_qresi_counts': 0, 'v_patch_nums': pn, 'test_mode': True},
        'VAR': {'num_classes': cfg['num_classes'], 'depth': cfg['depth'], 'embed_dim': cfg['embed_dim'], 'num_heads': cfg['num_heads'],
                'mlp_ratio': cfg['mlp_ratio'], 'drop_rate': 0.0, 'attn_drop_rate': 0.0, 'drop_path_rate': 0.0, 'norm_eps': 1e-06,
                'shared_aln': cfg['shared_aln'], 'cond_drop_rate': 0.1, 'attn_l2_norm': cfg['attn_l2_norm'], 'patch_nums': pn,
                'flash_if_available': False, 'fused_if_available': False},
        'VAR_note': 'VAR(vae_local=<the VQVAE above>, **VAR). cond_drop_rate is set to 0 at run time before computing logits/loss.',
        'init_weights_args': {'init_adaln': 0.5, 'init_adaln_gamma': 1e-05, 'init_head': 0.02, 'init_std': -1},
        'img_size': cfg['img_size'], 'batch': B, 'label': label.tolist(), 'downsample': 16,
        'seeds': {'construct_seed': 0, 'param_seed': seed, 'image_seed': 1002, 'interp_seed': 1003, 'g_seed of autoregressive_infer_cfg': 0, 'seed_search': search},
        'image_recipe': 'make_image(size, image_seed): g=torch.Generator().manual_seed(image_seed); lo=randn(B,3,s/8,s/8,g); mid=randn(B,3,s/4,s/4,g); img=tanh(bicubic(lo->s) + 0.3*bicubic(mid->s)) (align_corners=False)',
        'reinit': {'doc': 'torch.Generator(param_seed); VQVAE parameters (codebook last), then VAR, each in named_modules() / named_parameters(recurse=False) order; rules per parameter below',
                   'rule_per_param': {'vae': vae_rules, 'var': var_rules}, 'codebook_std': cb_std},
        'derived': {
            'L': L, 'first_l': var.first_l, 'begin_ends': [list(be) for be in var.begin_ends], 'Cvae': cfg['z_channels'], 'V': V,
            'head_dim': head_dim, 'attn_scale': var.blocks[0].attn.scale, 'mlp_hidden': round(cfg['embed_dim'] * cfg['mlp_ratio']),
            'attn_max_scale_mul': getattr(var.blocks[0].attn, 'max_scale_mul', None),
            'phi': {'class': phi_cls, 'ticks': ticks.tolist() if ticks is not None else None, 'num_phi': K if abs(cfg['quant_resi']) > 1e-6 else 0,
                    'phi_index_per_scale': phi_index, 'quant_resi_ratio_attr': cfg['quant_resi']},
            'num_params_vae': sum(p.numel() for p in vae.parameters()), 'num_params_var': sum(p.numel() for p in var.parameters()),
        },
        'thresholds': THRESHOLDS,
        'env': {'python': sys.version.split()[0], 'torch': torch.__version__, 'numpy': np.__version__, 'torch_num_threads': torch.get_num_threads()},
    }
    refs = {
        'case': cfg['preset'],
        'files': {'refs.safetensors': 'all tensors listed under "tensors"', 'grads.safetensors': 'd loss_train / d param for every VAR parameter, keyed by state_dict name',
                  'vae.pth / var.pth': f'torch.save(model.state_dict(), path) (zip format, torch {torch.__version__})',
                  'vae.safetensors / var.safetensors': 'same keys/values as the .pth files (buffers included)'},
        'setup': {'models': 'see config.json; both models in eval(); float32 throughout', 'var.cond_drop_rate': 0.0,
                  **({'edit_cell': f'demo_zero_shot_edit.ipynb code cell defining get_edit_mask / autoregressive_infer_cfg_with_mask / replace_embedding, exec()-ed at run time (sha256 of the cell source {edit_sha})'}
                     if edit_ns is not None else {'edit runs': 'not generated (pass --edit-notebook: they need the official demo notebook cell)'})},
        'scalars': {'loss_train': float(loss_train), 'loss_val': float(T['loss_val'])},
        'robustness': {'vq_rel_gap_min_per_scale (img_to_idxBl on img)': vq,
                       'top1_gap_min_per_run_and_scale (logits after CFG; edit runs: only generated positions)': gaps,
                       'meaning': 'head-room of every discrete decision: a port whose float error stays below these gaps makes identical choices; '
                                  'vq gap = (d2 - d1) / |d1| of the two nearest squared distances (float64)'},
        'notes': ['Same semantics as var-tiny (see its refs.json notes); attn_max_scale_mul is null when attn_l2_norm is False.'],
        'tensors': meta,
        'grads': {n: {'shape': list(g.shape), 'stats': stats(g)} for n, g in grads.items()},
        'env': config['env'],
    }
    for name, obj in (('config.json', config), ('refs.json', refs)):
        tmp = os.path.join(out, name + '.tmp')
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, os.path.join(out, name))
    print(f'wrote {out} ({cfg["preset"]}: img {cfg["img_size"]}, patch_nums {pn}, L {L}) in {time.time() - t0:.1f} s', file=sys.stderr)


if __name__ == '__main__':
    main()
