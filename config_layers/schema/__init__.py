"""The PipelineConfig schema and the messages its validation errors become."""
