"""Business logic scripting: calls the ONNX model 'simple' and returns its OUTPUT0 plus one."""

import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            inputs = [pb_utils.get_input_tensor_by_name(request, n) for n in ("INPUT0", "INPUT1")]
            call = pb_utils.InferenceRequest(
                model_name="simple", requested_output_names=["OUTPUT0"], inputs=inputs
            )
            answer = call.exec()
            if answer.has_error():
                raise pb_utils.TritonModelException(answer.error().message())
            total = pb_utils.get_output_tensor_by_name(answer, "OUTPUT0").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("PLUS_ONE", total + 1)]))
        return responses
