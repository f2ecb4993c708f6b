package io.expertcast.streams;

import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;

/**
 * A record that cannot be decoded (truncated bytes, wrong schema) goes to moe.dead-letter with the
 * reason and its source offset, and the application carries on. Under exactly_once_v2 the dead
 * letter is written in the same transaction as the task's output. Logged by {@link RejectionLog}
 * (one line per kind per interval), not per record.
 */
public class DeadLetterDeserializationHandler implements DeserializationExceptionHandler {
    private String application = "unknown";

    @Override
    public void configure(Map<String, ?> configs) {
        Object id = configs.get(StreamsConfig.APPLICATION_ID_CONFIG);
        if (id != null) {
            application = id.toString();
        }
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record,
                                Exception exception) {
        String reason = "undecodable record: " + exception.getMessage();
        return Response.resume(List.of(DeadLetters.toProducerRecord(
                DeadLetters.of(application, record.topic(), record.partition(), record.offset(), reason,
                        record.key(), record.value()))));
    }
}
