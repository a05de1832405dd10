//! SGD with momentum, Nesterov and weight decay over learning-rate groups, as `torch.optim.SGD` computes it
//! (d = g + wd p; b = m b + d, b = d at the first step; d = d + m b with Nesterov, else d = b; p -= lr d),
//! with its momentum buffers in the open so that a checkpoint can save and restore them (tch's optimiser
//! keeps them inside libtorch, out of reach).

use anyhow::{bail, Result};
use tch::{nn, Tensor};

/// One trainable parameter: its name, tensor, learning-rate group and momentum buffer.
struct Param {
    name: String,
    tensor: Tensor,
    group: usize,
    buffer: Option<Tensor>,
}

pub struct Sgd {
    params: Vec<Param>,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    lrs: Vec<f64>,
}

impl Sgd {
    /// Over the trainable variables of `vs`, each in its optimiser group, every group at `lr` until set.
    pub fn new(vs: &nn::VarStore, momentum: f64, nesterov: bool, weight_decay: f64, lr: f64) -> Sgd {
        let vars = vs.variables_.lock().unwrap();
        let mut params: Vec<Param> = vars
            .trainable_variables
            .iter()
            .map(|v| {
                let name = vars
                    .named_variables
                    .iter()
                    .find(|(_, t)| t.data_ptr() == v.tensor.data_ptr())
                    .map(|(n, _)| n.clone())
                    .expect("every trainable variable is named");
                Param { name, tensor: v.tensor.shallow_clone(), group: v.group, buffer: None }
            })
            .collect();
        params.sort_by(|a, b| a.name.cmp(&b.name));
        let groups = params.iter().map(|p| p.group + 1).max().unwrap_or(1);
        Sgd { params, momentum, nesterov, weight_decay, lrs: vec![lr; groups] }
    }

    /// Sets the learning rate of a group (a group no parameter is in is ignored).
    pub fn set_lr(&mut self, group: usize, lr: f64) {
        if let Some(l) = self.lrs.get_mut(group) {
            *l = lr;
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.tensor.zero_grad();
        }
    }

    /// The trainable parameters' gradients (defined ones).
    pub fn grads(&self) -> Vec<Tensor> {
        self.params.iter().map(|p| p.tensor.grad()).filter(Tensor::defined).collect()
    }

    /// One step with the current gradients.
    pub fn step(&mut self) {
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.tensor.grad();
                if !g.defined() {
                    continue;
                }
                let mut d = if self.weight_decay != 0.0 { &g + &p.tensor * self.weight_decay } else { g.copy() };
                if self.momentum != 0.0 {
                    let b = match p.buffer.take() {
                        None => d.copy(),
                        Some(mut b) => {
                            let _ = b.f_mul_scalar_(self.momentum);
                            let _ = b.f_add_(&d);
                            b
                        }
                    };
                    d = if self.nesterov { &d + &b * self.momentum } else { b.shallow_clone() };
                    p.buffer = Some(b);
                }
                let lr = self.lrs[p.group];
                let _ = p.tensor.f_sub_(&(d * lr));
            }
        });
    }

    /// The momentum buffers by parameter name (parameters without one yet are left out).
    pub fn buffers(&self) -> Vec<(String, Tensor)> {
        self.params.iter().filter_map(|p| p.buffer.as_ref().map(|b| (p.name.clone(), b.shallow_clone()))).collect()
    }

    /// Restores momentum buffers by parameter name (every given name must be a parameter of the same shape).
    pub fn set_buffers(&mut self, buffers: Vec<(String, Tensor)>) -> Result<()> {
        for (name, b) in buffers {
            let Some(p) = self.params.iter_mut().find(|p| p.name == name) else {
                bail!("momentum buffer `{name}` has no parameter of that name");
            };
            if b.size() != p.tensor.size() {
                bail!("momentum buffer `{name}` has shape {:?}, its parameter {:?}", b.size(), p.tensor.size());
            }
            p.buffer = Some(b.to_kind(p.tensor.kind()).to_device(p.tensor.device()));
        }
        Ok(())
    }
}
