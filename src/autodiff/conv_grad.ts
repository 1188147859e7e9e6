// Gradient rules of the convolution and pooling ops. im2col and col2im are each other's adjoint, and so are
// avgpool and avgpool_grad: the gradient of each linear op is the other one. conv2d itself is a composite
// (im2col, matmul, reshape, transpose), so its rule is the composition of theirs.
import * as conv from '../graph/conv.js';
import type { GradRule } from './rules.js';

export const CONV_GRAD_RULES: Record<string, GradRule> = {
  im2col: (n, dy) => [conv.col2im(dy, n.inputs[0].shape, conv.windowAttr(n), conv.layoutAttr(n))],
  col2im: (n, dy) => [conv.im2colWin(dy, conv.windowAttr(n), conv.layoutAttr(n))],
  maxpool: (n, dy) => [conv.maxPoolGrad(n.inputs[0], dy, conv.windowAttr(n))],
  avgpool: (n, dy) => [conv.avgPoolGrad(dy, n.inputs[0].shape, conv.windowAttr(n), n.attrs.countIncludePad as boolean)],
  avgpool_grad: (n, dy) => [conv.avgPoolWin(dy, conv.windowAttr(n), n.attrs.countIncludePad as boolean)],
  // maxpool_grad has no rule: second derivatives through max pooling are not needed by anything here.
};
