"""makemore: a character-level MLP language model trained with a hand-written backward pass.

The model is the one from Bengio et al. (2003), "A Neural Probabilistic Language Model": each character is
embedded, the embeddings of the previous ``block_size`` characters are concatenated and fed to a tanh hidden
layer, and a softmax predicts the next character. A BatchNorm layer (Ioffe & Szegedy, 2015) sits before the
tanh, as in the "backprop ninja" lecture.

The modules, from the slow and obvious to the fast:

- ``model``: configuration, initialisation, inference with calibrated BatchNorm statistics;
- ``atomic``: the forward chain one small step at a time and its 26 gradients written by hand;
- ``fused``: the cross-entropy and BatchNorm backward passes collapsed into one formula each;
- ``fast``: one SGD step built from the fused formulas with preallocated buffers (what training runs);
- ``data``, ``train``, ``sample``, ``checkpoint``: the dataset, the training loop, sampling, saving.

This file imports nothing on purpose: ``import ninjagrad.makemore.fast`` should not pay for the others.
"""
