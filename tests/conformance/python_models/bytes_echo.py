"""BYTES in, BYTES out unchanged, and each element's length in bytes (INT32)."""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy()
            lengths = np.array([len(v) for v in text.ravel()], dtype=np.int32).reshape(text.shape)
            outputs = [pb_utils.Tensor("ECHO", text), pb_utils.Tensor("LENGTH", lengths)]
            responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
        return responses
