"""Every threshold the rules use, in one place, with the reason for its value.

Values were set from first principles and checked against ``fixtures/corpus`` (buggy scripts must fire,
fixed twins must not); none is tuned to a single file.
"""

# -- input data ----------------------------------------------------------------------------------
#: Inputs of a network should be of order 1 (standardised or scaled to [0, 1]). Features whose largest
#: magnitude exceeds this make the first layer's pre-activations hundreds of times larger than its
#: initialisation assumes (Glorot/He keep activations of order 1 only for inputs of order 1).
INPUT_ABS_MAX = 50.0

# -- windows -------------------------------------------------------------------------------------
#: A symptom of the trained state (dead units, saturation, vanishing gradients) must hold over the
#: last fraction of recorded iterations, not a single noisy step.
LATE_FRACTION = 0.25
#: ... and over at least this many iterations.
MIN_WINDOW = 5

# -- activations ---------------------------------------------------------------------------------
#: A ReLU layer is dead when almost all of its outputs are exactly 0 for whole batches: it then passes
#: no gradient and cannot recover. 0.95 leaves room for a few units alive by chance.
DEAD_FRACTION = 0.95
#: A sigmoid/tanh/softmax layer is saturated when most outputs sit within 1% of the bounds, where the
#: derivative is below ~1% of its peak (see stats.SATURATION).
SATURATED_FRACTION = 0.9

# -- gradients -----------------------------------------------------------------------------------
#: Vanishing: the first trainable layer's gradient norm below this fraction of the last layer's.
#: Healthy deep nets stay within ~1e-2 of each other; a sigmoid stack loses a factor ~4 per layer.
VANISHING_RATIO = 1e-3
#: Exploding: a gradient norm this large is beyond what any normalised model needs.
EXPLODING_NORM = 1e4

# -- updates and the learning rate ----------------------------------------------------------------
#: The update/weight norm ratio of a healthy step is around 1e-3 (Karpathy's rule of thumb; Adam with
#: lr 1e-3 gives ~1e-3 to 1e-2 early on). Above this the first steps rewrite a large part of the
#: weights: the likely cause when a symptom follows (NaN, dead units, a loss that does not fall). Large
#: early steps on their own are not a fault: a regression with large targets starts with large gradients.
UPDATE_RATIO_HIGH = 0.1
#: Updates larger than the weights themselves are too large whatever follows.
UPDATE_RATIO_EXCESSIVE = 1.0
#: The healthy range of that ratio, used to compute the learning rate a fix suggests: a rate too high is
#: brought to the top of the range (updates scale with the learning rate, for SGD and Adam alike), a rate
#: too low to its middle.
UPDATE_RATIO_HEALTHY_HIGH = 1e-2
UPDATE_RATIO_HEALTHY = 1e-3
#: Below this the weights effectively do not move.
UPDATE_RATIO_LOW = 1e-6
#: Weights whose largest magnitude grows by this factor from the first step have exploded.
WEIGHT_GROWTH = 1e3

#: "Right after the first steps": the learning rate shows in the first few updates, before the
#: network has had time to adapt (dead units, vanished updates) and hide it.
FIRST_STEPS = 5
#: Activations of this magnitude at the first step, with inputs of order 1, mean the forward pass
#: amplifies at every layer (initialisation or recurrence too large): gradients will overflow.
ACTIVATION_EXPLODED = 1e6

# -- initialisation ------------------------------------------------------------------------------
#: A kernel whose standard deviation at step 0 is this many times the Glorot-uniform one,
#: sqrt(2 / (fan_in + fan_out)), starts saturated or exploding.
INIT_STD_FACTOR = 10.0

# -- data order and amount ---------------------------------------------------------------------------
#: A batch whose labels are all equal teaches one class; when this share of batches is so, the data was
#: not shuffled (sorted by class).
SINGLE_LABEL_BATCHES = 0.5
#: Validation accuracy below this fraction of the training accuracy (when training accuracy is high)
#: means the validation data is not drawn like the training data, e.g. split off sorted data.
VALIDATION_GAP = 0.5
#: Networks need hundreds of updates; fewer than this, with the loss still far from converged, means the
#: batches are too large (or the epochs too few) for the data.
FEW_UPDATES = 50
#: ... and a fault when an epoch has at most this many steps: the batch is (almost) the whole training set.
FULL_BATCH_STEPS = 2

# -- progress --------------------------------------------------------------------------------------
#: The loss has not decreased when its median over the last quarter of iterations is above this fraction
#: of its median over the first START_WINDOW iterations (the loss of the untrained model; ten batches
#: so that one odd batch does not decide it).
STUCK_LOSS_RATIO = 0.97
START_WINDOW = 10
#: The loss oscillates when, over the late window, it moves between consecutive steps by more than this
#: fraction of its level (median |loss[t] - loss[t-1]| / median loss) while not falling: the steps jump
#: across the valley instead of descending it. Batch-to-batch noise of a healthy run is well below it
#: once the loss has settled; it is what a learning rate a few times too high looks like.
OSCILLATION = 0.5
#: Accuracy has not increased when no epoch beats the first by this much (over at least ACCURACY_EPOCHS
#: epochs) ...
ACCURACY_GAIN = 0.01
ACCURACY_EPOCHS = 3
#: ... and it sits at the base rate (the majority class share) within this, or is exactly constant: a
#: model that predicts one class for every sample scores the majority share, epoch after epoch.
BASE_RATE_TOLERANCE = 0.02

#: A loss that ends at this fraction or more of the loss of the best constant prediction (the class shares
#: for a classifier: entropy of the base rate, or ln K for K classes; the targets' variance for a mean
#: squared error) has learned nothing from the inputs: a model that learned anything ends well below it.
CHANCE_LOSS_FRACTION = 0.95
#: Any epoch-level signal (epoch loss, validation loss, a validation or training metric) improving by this
#: much relative to its first epoch (or, for metrics in [0, 1], by this many points) shows the model learns:
#: then a flat per-step loss is not "stuck".
PROGRESS_GAIN = 0.05

# -- configuration -------------------------------------------------------------------------------
#: An L1/L2 factor above this makes the penalty dominate any data loss of order 1.
STRONG_REGULARIZATION = 0.5
#: clipnorm/clipvalue below this clips every gradient to almost nothing.
TINY_CLIP = 1e-3

# -- while training (online.py) -------------------------------------------------------------------
#: The first online analysis runs after this many iterations; each next one once the run is this many
#: times longer, so all analyses together cost about as much as a few analyses of the whole run.
CHECK_FIRST = 64
CHECK_GROWTH = 1.25
#: A stalled loss is a confirmed fault, and stops training, only when this many consecutive analyses
#: agree, and not before this many iterations: a slow start is not a fault.
CONFIRM_CHECKS = 3
CONFIRM_MIN_ITERATIONS = 256
