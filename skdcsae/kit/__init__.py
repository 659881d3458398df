"""Donor-kit file format 3: a pickle of plain bytes holding canonical JSON and safetensors."""
