"""Reads and writes safetensors files with nothing but torch and the standard library.

Debian's python3-torch comes without the `safetensors` package, so wgtrain's export carries this small reader and
writer of the same format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
byte range (and an optional string-to-string __metadata__), then the raw little-endian bytes.
"""
import json
import sys

import torch

DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}

if sys.byteorder != 'little':
    raise RuntimeError('safetensors_io: the format is little-endian, and so must this machine be')


def load_safetensors(path):
    """Returns ({name: tensor}, metadata) for the file at `path`; every tensor owns its memory."""
    with open(path, 'rb') as f:
        data = f.read()
    n = int.from_bytes(data[:8], 'little')
    header = json.loads(data[8:8 + n])
    metadata = header.pop('__metadata__', {})
    start = 8 + n
    tensors = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        dtype = DTYPES[entry['dtype']]
        if end > begin:
            # bytearray: a writable copy, so torch.frombuffer does not warn and the tensor can be trained in place.
            flat = torch.frombuffer(bytearray(data[start + begin:start + end]), dtype=dtype)
        else:
            flat = torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry['shape'])
    return tensors, metadata


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (contiguous CPU copies are made) and optional string metadata to `path`."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().to('cpu').contiguous()
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b''
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)  # keeps the data 8-byte aligned, as the reference writer does
    with open(path, 'wb') as f:
        f.write(len(text).to_bytes(8, 'little'))
        f.write(text)
        for blob in blobs:
            f.write(blob)
