// Gradient rules of the convolution and pooling ops. im2col and col2im are each other's adjoint, and so are
// avgpool and avgpool_grad: the gradient of each linear op is the other one. conv2d itself is a composite
// (im2col, matmul, reshape, transpose), so its rule is the composition of theirs.
import * as conv from '../graph/conv.js';
import type { GradRules } from './rule.js';

export const CONV_GRAD_RULES = {
  im2col: (n, dy) => [conv.col2im(dy, n.inputs[0].shape, n.attrs.win, n.attrs.layout)],
  col2im: (n, dy) => [conv.im2colWin(dy, n.attrs.win, n.attrs.layout)],
  maxpool: (n, dy) => [conv.maxPoolGrad(n.inputs[0], dy, n.attrs.win)],
  avgpool: (n, dy) => [conv.avgPoolGrad(dy, n.inputs[0].shape, n.attrs.win, n.attrs.countIncludePad)],
  avgpool_grad: (n, dy) => [conv.avgPoolWin(dy, n.attrs.win, n.attrs.countIncludePad)],
  // maxpool_grad has no rule: second derivatives through max pooling are not needed by anything here.
} satisfies GradRules;
