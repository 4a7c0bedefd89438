"""Verification: the network's equations carried over whole input regions.

Where an attack tries points, verification bounds every neuron over a set of
inputs and either proves that the output can never cross a line, or returns a
concrete input that crosses it, checked by a plain forward pass.
"""
