package io.procpool.cluster.slurm.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test (class or method) that needs the real Slurm test cluster of
 * {@code cluster-slurm/src/test/slurm/up.sh}. Tagged {@code slurm}.
 *
 * <p>The test runs when the cluster answers, is skipped (with the reason) when it does not, and
 * <em>fails</em> when it does not and the environment variable {@value SlurmCondition#MODE_VARIABLE} is
 * {@code required} (as in CI). See {@link SlurmCondition}.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Documented
@Inherited
@Tag("slurm")
@ExtendWith(SlurmCondition.class)
public @interface SlurmTest {}
