// A convolution window's geometry as override constants (input H x W, output OH x OW, kernel KH x KW, stride,
// padding, dilation), shared by im2col, col2im, the implicit-GEMM convolution and pooling (which has no dilation).
// Constants, not uniforms: the index arithmetic divides by them, and a division by a constant compiles to a multiply
// and shift.
override H: u32;
override W: u32;
override OH: u32;
override OW: u32;
override KH: u32;
override KW: u32;
override SH: u32;
override SW: u32;
override PH: u32;
override PW: u32;
override DH: u32;
override DW: u32;
