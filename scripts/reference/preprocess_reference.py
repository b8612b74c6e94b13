#!/usr/bin/env python3
"""Reference tensors for aivmm's image preprocessing (test/unit/preprocess.test.ts).

Writes test/fixtures/preprocess/: a few generated images (a 720x477 "photo" JPEG, a portrait PNG (200x301), a tiny
PNG, a JPEG stored sideways with EXIF orientation 6, an RGBA PNG) and, for each pipeline, the 8-bit RGB
values just before rescale/normalise (uint8, HWC) and two float32 tensors after normalisation (NCHW):
sha256 of each in reference.json, and a few stored whole as gzipped .npy (FULL). Computed independently of aivmm:

- imagenet: torchvision's evaluation transform on a PIL image, written out from torchvision's code
  (transforms.Resize(256) -> F.resize -> _compute_resized_output_size (long side int()-truncated) ->
  PIL img.resize((w, h), Image.BILINEAR); CenterCrop(224): top = int(round((h - 224) / 2.0)), padding
  with 0 first when smaller; ToTensor: x / 255 in float32; Normalize: (x - mean) / std in float32).
- clip: transformers' CLIPImageProcessor (slow): convert('RGB'), resize shortest_edge 224 with
  PIL BICUBIC (get_resize_output_image_size, default_to_square=False), center_crop with
  top = (h - 224) // 2, rescale x * 1/255 (float64 -> float32), normalise in float32.
- vit: ViTImageProcessor: resize to exactly 224x224 with PIL BILINEAR, no crop, mean/std 0.5.
- yolo: ultralytics LetterBox(new_shape, auto=False, center=True): r = min(H/h, W/w),
  new_unpad = (int(round(w*r)), int(round(h*r))), cv2.resize(INTER_LINEAR), cv2.copyMakeBorder with
  top = int(round(dh - 0.1)), bottom = int(round(dh + 0.1)), value 114.

EXIF orientation is applied first (PIL.ImageOps.exif_transpose), as aivmm does.

Run with Debian's python3 (PIL, numpy) and opencv-python-headless:
  python3 -m venv --system-site-packages scratch/venv
  scratch/venv/bin/pip install --no-deps opencv-python-headless
  scratch/venv/bin/python scripts/reference/preprocess_reference.py
Pillow 9.4.0, numpy 1.24.2, OpenCV 4.14.0 made the stored fixtures.
"""
import gzip
import hashlib
import io
import json
import os
import sys

import numpy as np
from PIL import Image, ImageOps

import cv2

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'preprocess')
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def photo(w, h, seed):
    """A deterministic photo-like picture: smooth gradients, discs, stripes, edges and sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    img[..., 0] = 90 + 80 * np.sin(x / w * 3.1 + 0.4) * np.cos(y / h * 2.3)
    img[..., 1] = 120 + 70 * np.cos(x / w * 5.0 - y / h * 1.7)
    img[..., 2] = 60 + 150 * (y / h)
    for _ in range(14):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(min(w, h) * 0.03, min(w, h) * 0.25)
        col = rng.uniform(0, 255, 3)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r * r
        img[mask] = img[mask] * 0.3 + col * 0.7
    stripes = ((x + 2 * y) // max(2, w // 60)) % 2 == 0
    box = (x > w * 0.55) & (x < w * 0.8) & (y > h * 0.2) & (y < h * 0.45)
    img[stripes & box] = [240, 240, 230]
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8), 'RGB')


def load(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return im.convert('RGB')


def center_crop_torchvision(im, size):
    w, h = im.size
    if size > w or size > h:
        pl = (size - w) // 2 if size > w else 0
        pt = (size - h) // 2 if size > h else 0
        pr = (size - w + 1) // 2 if size > w else 0
        pb = (size - h + 1) // 2 if size > h else 0
        canvas = Image.new('RGB', (w + pl + pr, h + pt + pb), (0, 0, 0))
        canvas.paste(im, (pl, pt))
        im = canvas
        w, h = im.size
    top = int(round((h - size) / 2.0))
    left = int(round((w - size) / 2.0))
    return np.asarray(im.crop((left, top, left + size, top + size)))


def resize_shortest(im, size, resample):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    return im.resize((nw, nh), resample)


def imagenet(path, resample=Image.BILINEAR):
    im = resize_shortest(load(path), 256, resample)
    return center_crop_torchvision(im, 224)


def clip(path):
    arr = np.asarray(resize_shortest(load(path), 224, Image.BICUBIC))
    h, w = arr.shape[:2]
    top, left = (h - 224) // 2, (w - 224) // 2
    return arr[top:top + 224, left:left + 224]


def vit(path):
    return np.asarray(load(path).resize((224, 224), Image.BILINEAR))


def letterbox(path, size):
    img = np.asarray(load(path))
    shape = img.shape[:2]
    r = min(size / shape[0], size / shape[1])
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))
    dw, dh = (size - new_unpad[0]) / 2, (size - new_unpad[1]) / 2
    if shape[::-1] != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return img, {'scale': r, 'padX': left, 'padY': top}


def normalize(u8, mean, std, rescale_mul=False):
    x = u8.astype(np.float32)
    x = (u8.astype(np.float64) * (1 / 255)).astype(np.float32) if rescale_mul else x / np.float32(255)
    x = (x - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32)


# Stored whole (gzipped .npy), so a failing test can say where and by how much; the rest by sha256.
FULL = {'landscape.imagenet', 'landscape.imagenet.f32', 'portrait.clip', 'exif6.imagenet', 'tiny.yolo320'}
HASHES = {}


def save(name, arr):
    arr = np.ascontiguousarray(arr)
    HASHES[name] = {'sha256': hashlib.sha256(arr.tobytes()).hexdigest(), 'shape': list(arr.shape), 'dtype': str(arr.dtype)}
    if name not in FULL:
        return
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr))
    with gzip.GzipFile(os.path.join(OUT, name + '.npy.gz'), 'wb', compresslevel=9, mtime=0) as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    photo(720, 477, 1).save(os.path.join(OUT, 'landscape.jpg'), quality=88)
    photo(200, 301, 2).save(os.path.join(OUT, 'portrait.png'))
    photo(7, 5, 3).save(os.path.join(OUT, 'tiny.png'))
    sideways = photo(240, 150, 4)  # stored 240x150, shown upright as 150x240 after orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(os.path.join(OUT, 'exif6.jpg'), quality=90, exif=exif)
    rgba = photo(161, 120, 5).convert('RGBA')
    a = np.asarray(rgba).copy()
    a[..., 3] = np.linspace(0, 255, 161, dtype=np.uint8)[None, :]
    Image.fromarray(a, 'RGBA').save(os.path.join(OUT, 'rgba.png'))

    meta = {'pillow': Image.__version__, 'numpy': np.__version__, 'opencv': cv2.__version__, 'cases': {}}
    for img in ['landscape.jpg', 'portrait.png', 'tiny.png', 'exif6.jpg', 'rgba.png']:
        p = os.path.join(OUT, img)
        stem = img.split('.')[0]
        save(f'{stem}.imagenet', imagenet(p))
        save(f'{stem}.clip', clip(p))
        lb, geo = letterbox(p, 320)
        save(f'{stem}.yolo320', lb)
        meta['cases'][stem] = {'file': img, 'size': list(load(p).size), 'yolo320': geo}
    save('landscape.vit', vit(os.path.join(OUT, 'landscape.jpg')))
    # The other PIL filters a preprocessor_config.json can name (resample 0, 1, 4, 5), downscaling and upscaling.
    for code, name in [(Image.NEAREST, 'nearest'), (Image.LANCZOS, 'lanczos'), (Image.BOX, 'box'), (Image.HAMMING, 'hamming')]:
        save(f'portrait.imagenet.{name}', imagenet(os.path.join(OUT, 'portrait.png'), code))
        save(f'tiny.imagenet.{name}', imagenet(os.path.join(OUT, 'tiny.png'), code))
    lb, geo = letterbox(os.path.join(OUT, 'landscape.jpg'), 640)
    save('landscape.yolo640', lb)
    meta['cases']['landscape']['yolo640'] = geo
    # float32 after normalisation, NCHW: torchvision's ImageNet and transformers' CLIP arithmetic.
    save('landscape.imagenet.f32', normalize(imagenet(os.path.join(OUT, 'landscape.jpg')), IMAGENET_MEAN, IMAGENET_STD))
    save('portrait.clip.f32', normalize(clip(os.path.join(OUT, 'portrait.png')), CLIP_MEAN, CLIP_STD, rescale_mul=True))
    # The decoded JPEG as PIL sees it, to tell decoder differences from preprocessing differences.
    save('landscape.decoded', np.asarray(load(os.path.join(OUT, 'landscape.jpg'))))
    meta['tensors'] = HASHES
    with open(os.path.join(OUT, 'reference.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f'wrote {len(os.listdir(OUT))} files, {total} bytes to {os.path.normpath(OUT)}', file=sys.stderr)


if __name__ == '__main__':
    main()
