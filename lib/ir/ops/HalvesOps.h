//===- HalvesOps.h - Rotary and Glu, shared facts ---------------*- C++ -*-===//
//
// Rotary(x, cos, sin) and Glu(x) {activation} (registered in HalvesOps.cpp)
// read the last axis as two halves. The activations Glu takes are stated
// here once, for the op, the pass that creates it and the kernel lowering.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_IR_OPS_HALVESOPS_H
#define KILN_IR_OPS_HALVESOPS_H

#include "llvm/ADT/StringRef.h"

namespace kiln {

class OpRegistry;
/// Registers Rotary and Glu (the op table's constructor calls it).
void registerHalvesOps(OpRegistry &R);

/// Rotary(x, cos, sin)
enum RotaryOperand : unsigned { RX, RCos, RSin };

/// gelu (erf), gelu_tanh or silu.
bool isGluActivation(llvm::StringRef Act);
/// Glu's activation at `X`, in fp32 as the kernel computes it.
float gluActivation(llvm::StringRef Act, float X);

} // namespace kiln

#endif
