//! No heap allocation on the inference and training paths, and training at
//! batch 256 within a 2 MiB thread stack.

use staticnet::nalgebra::{SMatrix, SVector};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations made by the current thread while counting is on, so
/// tests running in parallel do not disturb each other.
struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-locals are const-initialised and hold no heap memory themselves.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Number of allocations `f` makes on this thread.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.with(Cell::get), r)
}

staticnet::network! {
    /// The seed's multi-output model.
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let x = Dense(64, activation = relu)(x);
        let age = Dense(1, name = "age")(x);
        let income = Dense(10, activation = softmax, name = "income")(x);
        let gender = Dense(1, activation = sigmoid, name = "gender")(x);
        Model(posts, [age, income, gender]);
        compile(
            optimizer = rmsprop,
            loss = [mse, categorical_crossentropy, binary_crossentropy],
            loss_weights = [0.25, 1.0, 10.0],
        );
    }
}

staticnet::network! {
    /// Every layer kind, for the allocation check (and nested calls, as
    /// Keras code writes them).
    pub struct AllLayers {
        let a = Input(12);
        let b = Input(12);
        let x = Dense(16, activation = gelu)(a);
        let y = Dense(16, activation = tanh, use_bias = false)(b);
        let m = concatenate([add([x, y]), multiply([x, y]), maximum([x, y])]);
        let n = LayerNormalization()(m);
        let n = BatchNormalization()(n);
        let n = Dropout(0.2)(n);
        let d = dot([x, y], axes = 1, normalize = true);
        let out = Dense(4, activation = softmax, name = "out")(concatenate([n, d]));
        Model([a, b], out);
        compile(optimizer = Adam(learning_rate = 0.01, amsgrad = true, clipnorm = 1.0), loss = categorical_crossentropy);
    }
}

#[test]
fn forward_and_train_step_do_not_allocate() {
    let mut model = Posts::<f32>::new(1);
    let mut optimizer = Posts::<f32>::optimizer();
    let x = SMatrix::<f32, 256, 16>::from_fn(|i, j| ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let age = SMatrix::<f32, 1, 16>::repeat(0.5);
    let income = SMatrix::<f32, 10, 16>::from_fn(|i, j| f32::from(i == j % 10));
    let gender = SMatrix::<f32, 1, 16>::from_fn(|_, j| (j % 2) as f32);
    let sample = SVector::<f32, 256>::from_fn(|i, _| i as f32 / 256.0);
    let (n, out) = allocations_in(|| model.forward(&sample));
    assert_eq!(n, 0, "forward allocated");
    assert!(out.income.sum() > 0.99);
    let (n, _) = allocations_in(|| model.forward_batch::<16>(&x));
    assert_eq!(n, 0, "forward_batch allocated");
    let mut grads = Posts::<f32>::zeros();
    let (n, _) = allocations_in(|| model.loss_and_grad::<16>(&x, &age, &income, &gender, &mut grads));
    assert_eq!(n, 0, "loss_and_grad allocated");
    let (n, first) = allocations_in(|| model.train_step::<16>(&mut optimizer, &x, &age, &income, &gender));
    assert_eq!(n, 0, "train_step allocated");
    let later = model.train_step::<16>(&mut optimizer, &x, &age, &income, &gender);
    assert!(later.total < first.total, "training did not reduce the loss");

    let mut all = AllLayers::<f64>::new(2);
    let mut adam = AllLayers::<f64>::optimizer();
    let a = SMatrix::<f64, 12, 8>::from_fn(|i, j| ((i + 2 * j) % 5) as f64 - 2.0);
    let b = SMatrix::<f64, 12, 8>::from_fn(|i, j| ((3 * i + j) % 7) as f64 / 7.0);
    let t = SMatrix::<f64, 4, 8>::from_fn(|i, j| f64::from(i == j % 4));
    let (n, _) = allocations_in(|| all.train_step::<8>(&mut adam, &a, &b, &t));
    assert_eq!(n, 0, "train_step of every layer kind allocated");
    let (n, _) = allocations_in(|| all.forward_batch::<8>(&a, &b));
    assert_eq!(n, 0, "forward_batch of every layer kind allocated");
}

fn train_in_small_stack<T: staticnet::Scalar>() {
    // The data and model are built here; only `train_step` runs in the small stack.
    let mut model = Box::new(Posts::<T>::new(3));
    let mut optimizer = Box::new(Posts::<T>::optimizer());
    let x = Box::new(SMatrix::<T, 256, 256>::from_fn(|i, j| T::of_f64(((i + j) % 13) as f64 / 13.0)));
    let age = Box::new(SMatrix::<T, 1, 256>::repeat(T::of_f64(0.3)));
    let income = Box::new(SMatrix::<T, 10, 256>::from_fn(|i, j| T::of_f64(f64::from(i == j % 10))));
    let gender = Box::new(SMatrix::<T, 1, 256>::from_fn(|_, j| T::of_f64((j % 2) as f64)));
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let losses = model.train_step::<256>(&mut *optimizer, &x, &age, &income, &gender);
            assert!(losses.total.as_f64().is_finite());
        })
        .expect("thread")
        .join()
        .expect("training at batch 256 overflowed a 2 MiB stack");
}

#[test]
fn batch_256_fits_a_2_mib_stack_f32() {
    train_in_small_stack::<f32>();
}

#[test]
fn batch_256_fits_a_2_mib_stack_f64() {
    train_in_small_stack::<f64>();
}

/// `fit` allocates while it sets up and once per epoch for its logs, never
/// per batch: twice the batches per epoch must not mean more allocations.
#[test]
fn fit_does_not_allocate_per_batch() {
    use staticnet::nalgebra::{Const, Dyn, OMatrix};
    let count = |samples: usize| {
        let x = OMatrix::<f32, Const<256>, Dyn>::from_fn(samples, |i, j| ((i * 3 + j) % 17) as f32 / 17.0);
        let age = OMatrix::<f32, Const<1>, Dyn>::from_fn(samples, |_, j| (j % 5) as f32);
        let income = OMatrix::<f32, Const<10>, Dyn>::from_fn(samples, |i, j| f32::from(i == j % 10));
        let gender = OMatrix::<f32, Const<1>, Dyn>::from_fn(samples, |_, j| (j % 2) as f32);
        let mut model = Box::new(Posts::<f32>::new(1));
        let mut optimizer = Box::new(Posts::<f32>::optimizer());
        let options = staticnet::FitOptions::new().epochs(2).batch_size(16).verbose(false);
        allocations_in(|| {
            staticnet::fit(&mut *model, &mut *optimizer, &x, (&age, &income, &gender), &options).expect("fit")
        })
        .0
    };
    let (few, many) = (count(64), count(256));
    assert_eq!(few, many, "fit allocated {few} times for 4 batches per epoch, {many} for 16");
}
