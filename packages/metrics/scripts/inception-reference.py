"""Independent numpy forward pass of the FID InceptionV3 (pytorch-fid's FIDInceptionA/C/E_1/E_2
on torchvision's Inception3, 1008 classes, no aux head), written from the torchvision and
pytorch-fid module definitions, used to cross-check the TypeScript port.

Weights and input follow a closed formula (no file needed):
  param[key][i] = sin(0.37 * i + h(key)),  h(key) = 0.01 * sum of the key's character codes
scaled per kind (conv: 2/sqrt(fan_in); bn weight 1 + 0.1 s; bn bias 0.1 s; running_mean 0.1 s;
running_var 1.25 + 0.25 s; fc weight 0.05 s; fc bias 0.1 s), input x[j] = 0.9 sin(0.013 j),
shape (1, 3, 75, 75). Writes test/fixtures/inception-formula.json.
Run: python3 scripts/inception-reference.py   (numpy only)
"""
import json, math, os
import numpy as np

def h(key):
    return 0.01 * sum(ord(c) for c in key)

def param(key, shape):
    n = int(np.prod(shape))
    s = np.sin(0.37 * np.arange(n, dtype=np.float64) + h(key))
    if key.endswith('conv.weight'):
        fan_in = n // shape[0]
        s = s * 2 / math.sqrt(fan_in)
    elif key.endswith('bn.weight'):
        s = 1 + 0.1 * s
    elif key.endswith('bn.bias') or key.endswith('running_mean') or key == 'fc.bias':
        s = 0.1 * s
    elif key.endswith('running_var'):
        s = 1.25 + 0.25 * s
    elif key == 'fc.weight':
        s = 0.05 * s
    return s.astype(np.float32).astype(np.float64).reshape(shape)

def conv2d(x, w, stride, pad):
    ph, pw = pad
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    b, c, H, W = x.shape
    o, _, kh, kw = w.shape
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    cols = np.empty((b, c, kh, kw, oh, ow))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
    return np.einsum('bcijhw,ocij->bohw', cols, w, optimize=True)

def basic(x, name, cin, cout, k, stride=1, pad=(0, 0)):
    kh, kw = (k, k) if isinstance(k, int) else k
    pad = (pad, pad) if isinstance(pad, int) else pad
    w = param(name + '.conv.weight', (cout, cin, kh, kw))
    g, bta = param(name + '.bn.weight', (cout,)), param(name + '.bn.bias', (cout,))
    m, v = param(name + '.bn.running_mean', (cout,)), param(name + '.bn.running_var', (cout,))
    y = conv2d(x, w, stride, pad)
    y = (y - m[None, :, None, None]) / np.sqrt(v[None, :, None, None] + 1e-3) * g[None, :, None, None] + bta[None, :, None, None]
    return np.maximum(y, 0)

def maxpool(x, k, s, pad=0):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    b, c, H, W = x.shape
    oh, ow = (H - k) // s + 1, (W - k) // s + 1
    out = np.full((b, c, oh, ow), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, x[:, :, i:i + s * oh:s, j:j + s * ow:s])
    return out

def avgpool3_nopadcount(x):
    b, c, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones((1, 1, H, W)), ((0, 0), (0, 0), (1, 1), (1, 1)))
    s = sum(xp[:, :, i:i + H, j:j + W] for i in range(3) for j in range(3))
    cnt = sum(ones[:, :, i:i + H, j:j + W] for i in range(3) for j in range(3))
    return s / cnt

def A(x, n, cin, pf):
    b1 = basic(x, n + '.branch1x1', cin, 64, 1)
    b5 = basic(basic(x, n + '.branch5x5_1', cin, 48, 1), n + '.branch5x5_2', 48, 64, 5, 1, 2)
    b3 = basic(x, n + '.branch3x3dbl_1', cin, 64, 1)
    b3 = basic(b3, n + '.branch3x3dbl_2', 64, 96, 3, 1, 1)
    b3 = basic(b3, n + '.branch3x3dbl_3', 96, 96, 3, 1, 1)
    bp = basic(avgpool3_nopadcount(x), n + '.branch_pool', cin, pf, 1)
    return np.concatenate([b1, b5, b3, bp], 1)

def B(x, n, cin):
    b3 = basic(x, n + '.branch3x3', cin, 384, 3, 2)
    bd = basic(x, n + '.branch3x3dbl_1', cin, 64, 1)
    bd = basic(bd, n + '.branch3x3dbl_2', 64, 96, 3, 1, 1)
    bd = basic(bd, n + '.branch3x3dbl_3', 96, 96, 3, 2)
    return np.concatenate([b3, bd, maxpool(x, 3, 2)], 1)

def C(x, n, cin, c7):
    b1 = basic(x, n + '.branch1x1', cin, 192, 1)
    b7 = basic(x, n + '.branch7x7_1', cin, c7, 1)
    b7 = basic(b7, n + '.branch7x7_2', c7, c7, (1, 7), 1, (0, 3))
    b7 = basic(b7, n + '.branch7x7_3', c7, 192, (7, 1), 1, (3, 0))
    bd = basic(x, n + '.branch7x7dbl_1', cin, c7, 1)
    bd = basic(bd, n + '.branch7x7dbl_2', c7, c7, (7, 1), 1, (3, 0))
    bd = basic(bd, n + '.branch7x7dbl_3', c7, c7, (1, 7), 1, (0, 3))
    bd = basic(bd, n + '.branch7x7dbl_4', c7, c7, (7, 1), 1, (3, 0))
    bd = basic(bd, n + '.branch7x7dbl_5', c7, 192, (1, 7), 1, (0, 3))
    bp = basic(avgpool3_nopadcount(x), n + '.branch_pool', cin, 192, 1)
    return np.concatenate([b1, b7, bd, bp], 1)

def D(x, n, cin):
    b3 = basic(basic(x, n + '.branch3x3_1', cin, 192, 1), n + '.branch3x3_2', 192, 320, 3, 2)
    b7 = basic(x, n + '.branch7x7x3_1', cin, 192, 1)
    b7 = basic(b7, n + '.branch7x7x3_2', 192, 192, (1, 7), 1, (0, 3))
    b7 = basic(b7, n + '.branch7x7x3_3', 192, 192, (7, 1), 1, (3, 0))
    b7 = basic(b7, n + '.branch7x7x3_4', 192, 192, 3, 2)
    return np.concatenate([b3, b7, maxpool(x, 3, 2)], 1)

def E(x, n, cin, pool):
    b1 = basic(x, n + '.branch1x1', cin, 320, 1)
    b3 = basic(x, n + '.branch3x3_1', cin, 384, 1)
    b3 = np.concatenate([basic(b3, n + '.branch3x3_2a', 384, 384, (1, 3), 1, (0, 1)),
                         basic(b3, n + '.branch3x3_2b', 384, 384, (3, 1), 1, (1, 0))], 1)
    bd = basic(x, n + '.branch3x3dbl_1', cin, 448, 1)
    bd = basic(bd, n + '.branch3x3dbl_2', 448, 384, 3, 1, 1)
    bd = np.concatenate([basic(bd, n + '.branch3x3dbl_3a', 384, 384, (1, 3), 1, (0, 1)),
                         basic(bd, n + '.branch3x3dbl_3b', 384, 384, (3, 1), 1, (1, 0))], 1)
    p = avgpool3_nopadcount(x) if pool == 'avg' else maxpool(x, 3, 1, 1)
    bp = basic(p, n + '.branch_pool', cin, 192, 1)
    return np.concatenate([b1, b3, bd, bp], 1)

x = (0.9 * np.sin(0.013 * np.arange(3 * 75 * 75))).astype(np.float32).astype(np.float64).reshape(1, 3, 75, 75)
x = basic(x, 'Conv2d_1a_3x3', 3, 32, 3, 2)
x = basic(x, 'Conv2d_2a_3x3', 32, 32, 3)
x = basic(x, 'Conv2d_2b_3x3', 32, 64, 3, 1, 1)
x = maxpool(x, 3, 2)
x = basic(x, 'Conv2d_3b_1x1', 64, 80, 1)
x = basic(x, 'Conv2d_4a_3x3', 80, 192, 3)
x = maxpool(x, 3, 2)
x = A(x, 'Mixed_5b', 192, 32); x = A(x, 'Mixed_5c', 256, 64); x = A(x, 'Mixed_5d', 288, 64)
x = B(x, 'Mixed_6a', 288)
x = C(x, 'Mixed_6b', 768, 128); x = C(x, 'Mixed_6c', 768, 160); x = C(x, 'Mixed_6d', 768, 160); x = C(x, 'Mixed_6e', 768, 192)
x = D(x, 'Mixed_7a', 768)
x = E(x, 'Mixed_7b', 1280, 'avg'); x = E(x, 'Mixed_7c', 2048, 'max')
feat = x.mean(axis=(2, 3))[0]
logits = param('fc.weight', (1008, 2048)) @ feat + param('fc.bias', (1008,))
out = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'inception-formula.json')
json.dump({'note': __doc__.strip().splitlines()[0] + ' numpy ' + np.__version__ + ', float64.',
           'input_shape': [1, 3, 75, 75], 'features': [float('%.9g' % v) for v in feat],
           'logits': [float('%.9g' % v) for v in logits]}, open(out, 'w'))
print('features mean %.6f std %.6f; logits std %.6f' % (feat.mean(), feat.std(), logits.std()))
