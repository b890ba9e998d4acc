#!/usr/bin/env python3
"""cspnet's [yolo] training loss in PyTorch, vectorised (float32), for the
training-throughput peer (bench/train_detector_peers.py).

Semantics: docs/training.md "[yolo] loss" (AlexeyAB darknet's
forward_yolo_layer, as src/train/yolo_loss.cpp computes it and
tests/oracle/yolo_loss_oracle.py restates it in float64). Written from
those rules; the per-slot work is batched tensor code, the per-truth work
(anchor matching, box deltas of the positives) runs on the few positives.

    heads = yolo_heads_from_cfg("net.cfg")            # one dict per [yolo]
    truths = pack_truths(box_lists)                   # [[x, y, w, h, cls], ...] per image
    loss = yolo_loss(raw_outputs, heads, truths, net_w, net_h, grad_scale=1 / batch)
    loss.backward()

`raw_outputs` are the [yolo] layers' inputs (DarknetNet's outputs). The
returned value is darknet's reported loss, the sum of squared deltas over the
heads; its backward seeds every head input with -delta * grad_scale *
delta_normalizer on every channel (no derivative of the activations:
darknet's backward, which on the logistic channels is exactly the binary
cross-entropy gradient at the logit). It is not the derivative of the
reported value, exactly as in darknet and cspnet.

Options: every key the two benchmark cfgs use (iou_loss mse/ciou, also
iou/giou/diou; scale_x_y; iou_thresh with any iou_thresh_kind;
ignore_thresh; truth_thresh; iou/obj/cls/delta normalizers; max_delta;
label_smooth_eps; new_coords). Not vectorised, refused with
NotImplementedError: focal_loss, counters_per_class and objectness_smooth,
whose results depend on the order in which truths claim a slot (focal_loss:
the first truth's class sets every class delta; counters: the last truth's
class multiplier wins; objectness_smooth: the slot's IoU target competes
with later truths). Where truths share a slot, the result equals darknet's
ordered updates for the options supported: box deltas add up then are
averaged over the slot's positive classes; the objectness delta is the same
whichever truth writes it; class deltas end as "1 for every class some
truth claimed, 0 elsewhere" (darknet's refresh rule gives that in any
order, unless a class delta is exactly 0, i.e. p equals its target).
"""
from __future__ import annotations

import math

import torch

IGNORE_CLASS_PROB = 0.25  # darknet's compare_yolo_class threshold
KINDS = ("iou", "giou", "diou", "ciou")
BOX_LOSSES = ("mse",) + KINDS
UNSUPPORTED = ("focal_loss", "counters_per_class", "objectness_smooth")


# ----------------------------------------------------------------------------
# [yolo] options


def head_attrs(section) -> dict:
    """A darknet_torch Section of a [yolo] layer -> the attribute dict the
    float64 oracle takes (darknet's defaults, as src/layers/yolo.cpp)."""
    num = section.get_int("num", 1)
    a = {
        "classes": section.get_int("classes", 20),
        "num": num,
        "mask": section.get_ints("mask") if section.has("mask") else list(range(num)),
        "anchors": [float(v) for v in section.get_str("anchors", "").split(",") if v != ""],
        "scale_x_y": section.get_float("scale_x_y", 1.0),
        "new_coords": section.get_int("new_coords", 0) != 0,
        "ignore_thresh": section.get_float("ignore_thresh", 0.5),
        "truth_thresh": section.get_float("truth_thresh", 1.0),
        "iou_thresh": section.get_float("iou_thresh", 1.0),
        "iou_thresh_kind": section.get_str("iou_thresh_kind", "iou"),
        "iou_loss": section.get_str("iou_loss", "mse"),
        "iou_normalizer": section.get_float("iou_normalizer", 0.75),
        "obj_normalizer": section.get_float("obj_normalizer", 1.0),
        "cls_normalizer": section.get_float("cls_normalizer", 1.0),
        "delta_normalizer": section.get_float("delta_normalizer", 1.0),
        "max_delta": section.get_float("max_delta", math.inf),
        "label_smooth_eps": section.get_float("label_smooth_eps", 0.0),
        "counters_per_class": section.get_ints("counters_per_class") if section.has("counters_per_class") else [],
        "focal_loss": section.get_int("focal_loss", 0) != 0,
        "objectness_smooth": section.get_int("objectness_smooth", 0) != 0,
    }
    if len(a["anchors"]) < 2 * num:
        raise ValueError(f"{section.where('anchors')}: {len(a['anchors'])} values for num={num} anchors")
    return a


def yolo_heads_from_cfg(path: str) -> list[dict]:
    import darknet_torch as dt  # noqa: PLC0415 (only needed for cfg files)
    return [head_attrs(s) for s in dt.parse_cfg(path)[1:] if s.name == "yolo"]


def check_supported(a: dict) -> None:
    if a["iou_loss"] not in BOX_LOSSES or a["iou_thresh_kind"] not in KINDS:
        raise ValueError(f"[yolo]: iou_loss '{a['iou_loss']}' / iou_thresh_kind '{a['iou_thresh_kind']}' unknown")
    for key in UNSUPPORTED:
        if a.get(key):
            raise NotImplementedError(f"[yolo] {key}: depends on the order truths claim a slot; not vectorised")


# ----------------------------------------------------------------------------
# boxes


def pack_truths(lists, dtype=torch.float64) -> torch.Tensor:
    """Per-image lists of [x, y, w, h, cls] -> N x T x 5 (padded with
    zero-size boxes, which every head skips as invalid)."""
    most = max((len(b) for b in lists), default=0)
    out = torch.zeros((len(lists), max(most, 1), 5), dtype=dtype)
    for n, boxes in enumerate(lists):
        if boxes:
            out[n, : len(boxes)] = torch.tensor([[float(v) for v in b[:5]] for b in boxes], dtype=dtype)
    return out


def measure(p, t, kind, alpha=None):
    """IoU / GIoU / DIoU / CIoU of centre-size boxes p, t (tuples of
    broadcastable tensors x, y, w, h). CIoU's alpha is computed without
    gradient (held constant, as the CIoU paper and cspnet do) unless given."""
    px, py, pw, ph = p
    tx, ty, tw, th = t
    pl, pr, pt, pb = px - pw / 2, px + pw / 2, py - ph / 2, py + ph / 2
    tl, tr, tt, tb = tx - tw / 2, tx + tw / 2, ty - th / 2, ty + th / 2
    iw = torch.minimum(pr, tr) - torch.maximum(pl, tl)
    ih = torch.minimum(pb, tb) - torch.maximum(pt, tt)
    overlap = (iw > 0) & (ih > 0)
    inter = torch.where(overlap, iw * ih, torch.zeros_like(iw))
    union = pw * ph + tw * th - inter
    # Safe denominators: where() passes no gradient to the unused branch,
    # but a 0/0 there would still poison it with NaN.
    positive = union > 0
    iou = torch.where(positive, inter / torch.where(positive, union, torch.ones_like(union)), torch.zeros_like(union))
    if kind == "iou":
        return iou
    cw = torch.maximum(pr, tr) - torch.minimum(pl, tl)
    ch = torch.maximum(pb, tb) - torch.minimum(pt, tt)
    if kind == "giou":
        c = cw * ch
        ok = c > 0
        return torch.where(ok, iou - (c - union) / torch.where(ok, c, torch.ones_like(c)), iou)
    c2 = cw * cw + ch * ch
    ok = c2 > 0
    rho2 = (px - tx) ** 2 + (py - ty) ** 2
    diou = torch.where(ok, iou - rho2 / torch.where(ok, c2, torch.ones_like(c2)), iou)
    if kind == "diou":
        return diou
    v = (4 / math.pi ** 2) * (torch.atan(tw / th) - torch.atan(pw / ph)) ** 2
    if alpha is None:
        with torch.no_grad():
            vd, iod = v.detach(), iou.detach()
            alpha = torch.where(vd > 0, vd / torch.where(vd > 0, 1 - iod + vd, torch.ones_like(vd)),
                                torch.zeros_like(vd))
    return diou - alpha * v


def measure_gradient(p, t, kind):
    """d measure / d(x, y, w, h) of p, by autograd (alpha constant)."""
    with torch.enable_grad():
        leaves = [v.detach().clone().requires_grad_(True) for v in p]
        value = measure(leaves, t, kind)
        return torch.autograd.grad(value.sum(), leaves)


# ----------------------------------------------------------------------------
# one head


def activate(raw: torch.Tensor, a: dict) -> torch.Tensor:
    """The head's output (N x A x E x H x W): logistic on x, y, objectness
    and classes unless new_coords, then x, y scaled by scale_x_y about 0.5."""
    n, _, h, w = raw.shape
    x = raw.detach().reshape(n, len(a["mask"]), a["classes"] + 5, h, w)
    if a["new_coords"]:
        xy, rest = x[:, :, 0:2], x[:, :, 4:]
    else:
        xy, rest = torch.sigmoid(x[:, :, 0:2]), torch.sigmoid(x[:, :, 4:])
    s = float(a["scale_x_y"])
    xy = xy * s + (-0.5 * (s - 1))
    return torch.cat([xy, x[:, :, 2:4], rest], dim=2)


def anchor_sizes(a: dict, net_w: int, net_h: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    anchors = torch.tensor(a["anchors"][: 2 * a["num"]], dtype=dtype).reshape(-1, 2)
    return anchors[:, 0], anchors[:, 1]


def decode_wh(tw, th, aw, ah, a, net_w, net_h):
    if a["new_coords"]:
        return tw * tw * 4 * aw / net_w, th * th * 4 * ah / net_h
    return torch.exp(tw) * aw / net_w, torch.exp(th) * ah / net_h


def negatives(out, a, truths, valid, aw_mask, ah_mask, net_w, net_h):
    """Every slot's objectness delta (0 - p, cancelled above ignore_thresh)
    and, per slot, its best truth IoU and index (for truth_thresh)."""
    n, anchors, _, h, w = out.shape
    dtype = out.dtype
    i = torch.arange(w, dtype=dtype).view(1, 1, 1, w)
    j = torch.arange(h, dtype=dtype).view(1, 1, h, 1)
    pw, ph = decode_wh(out[:, :, 2], out[:, :, 3], aw_mask.view(1, -1, 1, 1), ah_mask.view(1, -1, 1, 1), a,
                       net_w, net_h)
    pred = ((i + out[:, :, 0]) / w, (j + out[:, :, 1]) / h, pw, ph)
    t = truths.to(dtype)
    tb = [t[:, :, e].view(n, 1, 1, 1, -1) for e in range(4)]  # N x 1 x 1 x 1 x T
    ious = measure([v.unsqueeze(-1) for v in pred], tb, "iou")  # N x A x H x W x T
    ious = torch.where(valid.view(n, 1, 1, 1, -1), ious, torch.zeros_like(ious))
    best, best_t = ious.max(dim=-1)  # pack_truths gives T >= 1
    predicts_class = (out[:, :, 5:] > IGNORE_CLASS_PROB).any(dim=2)
    best_match = torch.where(predicts_class, best, torch.zeros_like(best))
    p = out[:, :, 4]
    obj = a["obj_normalizer"] * (0 - p)
    obj = torch.where(best_match > a["ignore_thresh"], torch.zeros_like(obj), obj)
    return obj, best, best_t


def truth_positives(a, truths, valid, head_w, head_h, net_w, net_h):
    """(image, truth, slot, j, i) of every positive a truth makes: its best
    anchor of all `num` by shape IoU, and with iou_thresh < 1 every other
    anchor of this head above it (float64, like cspnet)."""
    t = truths.to(torch.float64)
    aw, ah = anchor_sizes(a, net_w, net_h, torch.float64)
    shape = (0.0, 0.0, t[:, :, 2:3], t[:, :, 3:4])  # N x T x 1 against num anchors
    anchor = (0.0, 0.0, (aw / net_w).view(1, 1, -1), (ah / net_h).view(1, 1, -1))
    zero = torch.zeros(())
    ious = measure((zero, zero, anchor[2], anchor[3]), (zero, zero, shape[2], shape[3]), "iou")
    best = ious.argmax(dim=-1, keepdim=True)  # first maximum; all zero -> anchor 0, as darknet
    k = torch.arange(a["num"]).view(1, 1, -1)
    take = k == best
    if a["iou_thresh"] < 1:
        extra = measure((zero, zero, anchor[2], anchor[3]), (zero, zero, shape[2], shape[3]), a["iou_thresh_kind"])
        take = take | (extra > a["iou_thresh"])
    slot_of = torch.full((a["num"],), -1, dtype=torch.long)
    for slot, anchor_index in enumerate(a["mask"]):
        slot_of[anchor_index] = slot
    take = take & (slot_of.view(1, 1, -1) >= 0) & valid.unsqueeze(-1)
    b, ti, ki = take.nonzero(as_tuple=True)
    cell_i = torch.clamp(torch.trunc(t[b, ti, 0] * head_w).long(), 0, head_w - 1)
    cell_j = torch.clamp(torch.trunc(t[b, ti, 1] * head_h).long(), 0, head_h - 1)
    return b, ti, slot_of[ki], cell_j, cell_i


def box_deltas(out, a, truths, b, ti, slot, j, i, net_w, net_h):
    """Box deltas (P x 4, float64) of the positives and their IoU."""
    head_h, head_w = out.shape[-2:]
    o = out[b, slot, 0:4, j, i].to(torch.float64)  # P x 4
    t = truths.to(torch.float64)[b, ti]  # P x 5
    aw, ah = anchor_sizes(a, net_w, net_h, torch.float64)
    mask = torch.tensor(a["mask"], dtype=torch.long)
    aw, ah = aw[mask[slot]], ah[mask[slot]]
    fi, fj = i.to(torch.float64), j.to(torch.float64)
    pw, ph = decode_wh(o[:, 2], o[:, 3], aw, ah, a, net_w, net_h)
    pred = [(fi + o[:, 0]) / head_w, (fj + o[:, 1]) / head_h, pw, ph]
    truth = [t[:, 0], t[:, 1], t[:, 2], t[:, 3]]
    iou = measure(pred, truth, "iou")
    norm = a["iou_normalizer"]
    if a["iou_loss"] == "mse":
        if a["new_coords"]:
            tw, th = torch.sqrt(t[:, 2] * net_w / (4 * aw)), torch.sqrt(t[:, 3] * net_h / (4 * ah))
        else:
            tw, th = torch.log(t[:, 2] * net_w / aw), torch.log(t[:, 3] * net_h / ah)
        target = torch.stack([t[:, 0] * head_w - fi, t[:, 1] * head_h - fj, tw, th], dim=1)
        weight = (2 - t[:, 2] * t[:, 3]).unsqueeze(1)  # small boxes weigh more
        return weight * (target - o) * norm, iou
    # darknet keeps the gradient finite for an empty predicted box
    pred[2] = torch.where(pred[2] == 0, torch.ones_like(pred[2]), pred[2])
    pred[3] = torch.where(pred[3] == 0, torch.ones_like(pred[3]), pred[3])
    g = list(measure_gradient(pred, truth, a["iou_loss"]))
    if not a["new_coords"]:  # darknet's chain factor exp(tw) (anchor/net size left out)
        g[2] = g[2] * torch.exp(o[:, 2])
        g[3] = g[3] * torch.exp(o[:, 3])
    d = torch.stack(g, dim=1) * norm
    d = torch.where(torch.isfinite(d), d, torch.zeros_like(d))  # darknet's fix_nan_inf
    md = a["max_delta"]
    if md is not None and math.isfinite(md):
        d = d.clamp(-md, md)
    return d, iou


def head_deltas(raw: torch.Tensor, a: dict, truths: torch.Tensor, net_w: int, net_h: int):
    """darknet's deltas (target - output) for one head: a tensor shaped like
    `raw` (float32), and {loss, box, obj, cls, positives, iou_sum} with
    tensors for the sums."""
    check_supported(a)
    out = activate(raw, a)
    n, anchors, entries, h, w = out.shape
    if truths.shape[0] != n:
        raise ValueError(f"[yolo]: {truths.shape[0]} truth lists for a batch of {n}")
    classes = a["classes"]
    t = truths
    valid = (t[:, :, 4] >= 0) & (t[:, :, 4] < classes) & (t[:, :, 2] > 0) & (t[:, :, 3] > 0)
    valid = valid & (t[:, :, 4] == torch.trunc(t[:, :, 4]))
    aw, ah = anchor_sizes(a, net_w, net_h, out.dtype)
    mask = torch.tensor(a["mask"], dtype=torch.long)
    delta = torch.zeros_like(out)
    obj, best, best_t = negatives(out, a, t, valid, aw[mask], ah[mask], net_w, net_h)

    # Positives: slots above truth_thresh with their best truth (no stats,
    # as darknet), then every truth's anchors at its cell.
    sb, sn, sj, si = (best > a["truth_thresh"]).nonzero(as_tuple=True)
    s_t = best_t[sb, sn, sj, si]
    tb, tt, tn, tj, ti = truth_positives(a, t, valid, w, h, net_w, net_h)
    b = torch.cat([sb, tb])
    ti_all = torch.cat([s_t, tt])
    slot, j, i = torch.cat([sn, tn]), torch.cat([sj, tj]), torch.cat([si, ti])

    box, iou = box_deltas(out, a, t, b, ti_all, slot, j, i, net_w, net_h)
    box_part = delta[:, :, 0:4].permute(0, 1, 3, 4, 2)  # N x A x H x W x 4 view
    box_part.index_put_((b, slot, j, i), box.to(delta.dtype), accumulate=True)
    p = out[:, :, 4]
    obj[b, slot, j, i] = a["obj_normalizer"] * (1 - p[b, slot, j, i])
    delta[:, :, 4] = obj

    cls = t[b, ti_all, 4].long()
    claimed = torch.zeros((n, anchors, classes, h, w), dtype=torch.bool)
    claimed[b, slot, cls, j, i] = True
    positive_slot = torch.zeros((n, anchors, h, w), dtype=torch.bool)
    positive_slot[b, slot, j, i] = True
    eps = a["label_smooth_eps"]
    one, zero = (1 - eps) + 0.5 * eps if eps else 1.0, 0.5 * eps if eps else 0.0
    probs = out[:, :, 5:]
    cls_delta = torch.where(claimed, one - probs, zero - probs)
    delta[:, :, 5:] = torch.where(positive_slot.unsqueeze(2), cls_delta, torch.zeros_like(cls_delta))

    # A slot several truths claimed: box delta averaged over its positive classes.
    counts = (delta[:, :, 5:] > 0).sum(dim=2)
    divide = (delta[:, :, 4] != 0) & (counts > 0)
    delta[:, :, 0:4] = torch.where(divide.unsqueeze(2), delta[:, :, 0:4] / counts.clamp(min=1).unsqueeze(2).to(delta.dtype),
                                   delta[:, :, 0:4])

    squares = delta * delta
    stats = {"box": squares[:, :, 0:4].sum(), "obj": squares[:, :, 4].sum(), "cls": squares[:, :, 5:].sum(),
             "positives": int(tb.numel()), "iou_sum": iou[sb.numel():].sum()}
    stats["loss"] = stats["box"] + stats["obj"] + stats["cls"]
    return delta.reshape(raw.shape), stats


# ----------------------------------------------------------------------------
# the loss as an autograd function


class _YoloLoss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, loss, seeds_owner, *raws):  # noqa: ARG004 (raws only link the graph)
        ctx.seeds = seeds_owner
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        return (None, None, *[s * grad for s in ctx.seeds])


def yolo_loss(raws, heads, truths, net_w, net_h, grad_scale=1.0, stats_out=None):
    """Sum over the heads of darknet's reported loss; backward seeds each
    head input with -delta * grad_scale * delta_normalizer. `raws`: one
    tensor per head (or a single tensor), `heads`: their attribute dicts,
    `truths`: pack_truths(...). Raises on a NaN or infinite loss."""
    if isinstance(raws, torch.Tensor):
        raws = (raws,)
    if len(raws) != len(heads):
        raise ValueError(f"{len(raws)} head outputs for {len(heads)} [yolo] heads")
    seeds, total = [], torch.zeros((), dtype=torch.float64)
    for raw, a in zip(raws, heads):
        delta, stats = head_deltas(raw, a, truths, net_w, net_h)
        seeds.append(delta * float(-grad_scale * a["delta_normalizer"]))
        total = total + stats["loss"].double()
        if stats_out is not None:
            stats_out.append(stats)
    if not torch.isfinite(total):
        raise FloatingPointError(f"[yolo] loss is {float(total)}")
    return _YoloLoss.apply(total.to(raws[0].dtype), seeds, *raws)
