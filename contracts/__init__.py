"""Data contracts shared by the exporters (which write them into a version's metadata) and the API
(which reads them to turn requests into tensors): nothing here imports either side."""
